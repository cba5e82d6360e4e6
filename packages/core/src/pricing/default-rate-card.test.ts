import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENAI_PRICES_VERSION, loadDefaultRateCard } from "./default-rate-card.js";

describe("the default rate card", () => {
  it("names the installed price-data version in every entry id", () => {
    const require = createRequire(import.meta.url);
    const main = require.resolve("@pydantic/genai-prices");
    const pkg = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as { version: string };
    expect(GENAI_PRICES_VERSION).toBe(pkg.version);
  });

  it("compiles every model of the price data with exact decimal rates", async () => {
    const card = await loadDefaultRateCard();
    const models = card.models();
    expect(models.length).toBeGreaterThan(500);
    expect(models.some((m) => m.provider === "openai" && m.model === "gpt-4o")).toBe(true);
    expect(card.entryFor("google", "gemini-2.5-flash", Date.now())?.rates.cache_read_mtok).toBe("0.03");
  });
});
