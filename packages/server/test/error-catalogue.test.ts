import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "@costtrail/core";
import { describe, expect, it } from "vitest";

describe("the error catalogue", () => {
  it("matches docs/errors.md code for code and status for status", () => {
    const doc = readFileSync(fileURLToPath(new URL("../../../docs/errors.md", import.meta.url)), "utf8");
    const documented = Object.fromEntries([...doc.matchAll(/^\| `(CT_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    const catalogue = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status]));
    expect(documented).toEqual(catalogue);
  });
});
