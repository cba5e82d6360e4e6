import { DIMENSION_COLUMNS } from "@costtrail/core";
import { describe, expect, it } from "vitest";
import { DIMENSIONS, dimensionLabel } from "../src/api/dimensions.js";

describe("the dashboard's dimensions", () => {
  it("are the columns the server groups and filters by, in its order", () => {
    expect([...DIMENSIONS]).toEqual([...DIMENSION_COLUMNS]);
  });

  it("read as words", () => {
    expect(dimensionLabel("prompt_version")).toBe("Prompt version");
    expect(dimensionLabel("tag.queue")).toBe("Tag: queue");
    expect(dimensionLabel("cache_read_tokens")).toBe("Cache read tokens");
  });
});
