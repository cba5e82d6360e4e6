import { describe, expect, it } from "vitest";
import { formatIssue } from "../errors.js";
import { validatePricingConfig } from "./pricing-config.js";

function problems(value: unknown): string[] {
  const r = validatePricingConfig(value);
  return r.ok ? [] : r.issues.map(formatIssue);
}

describe("validatePricingConfig", () => {
  it("accepts models with rates or dated prices, aliases, discounts, batch and service tiers", () => {
    const r = validatePricingConfig({
      models: [
        { provider: "acme", model: "llama", rates: { input_mtok: "0.5", output_mtok: 1.5 } },
        {
          provider: "openai",
          model: "ft:gpt-4o-mini",
          match: { starts_with: "ft:gpt-4o-mini" },
          prices: [{ effective_from: "2026-01-01", rates: { input_mtok: "0.3" } }],
        },
        { provider: "anthropic", model: "claude-x", rates: { input_mtok: { base: "3", tiers: [{ start: 200000, price: "6" }] } } },
      ],
      aliases: [{ provider: "azure", model: "prod-4o", maps_to: { provider: "openai", model: "gpt-4o" } }],
      discounts: { openai: "12.5" },
      batch: { groq: "0.5" },
      service_tiers: { openai: { priority: "1.8" } },
    });
    expect(r.ok).toBe(true);
    // YAML numbers are read as the decimals written.
    expect(r.ok && r.value.models?.[0]?.prices[0]?.rates.output_mtok).toBe("1.5");
  });

  it("names the path and the reason of each problem", () => {
    expect(
      problems({
        models: [
          { provider: "acme", model: "x", rates: { input_mtok: "abc", output_tokens: "1" } },
          { model: "y", prices: [{ effective_from: "yesterday", rates: { input_mtok: "-1" } }] },
          { provider: "acme", model: "z" },
          { provider: "acme", model: "w", match: { regex: "(" }, rates: {} },
        ],
        discounts: { openai: "120" },
        aliases: [{ provider: "azure", model: "d" }],
        surcharge: {},
      }),
    ).toMatchInlineSnapshot(`
      [
        "pricing.surcharge: is not a known field; expected one of models, aliases, discounts, batch, service_tiers",
        "pricing.models[0].rates.input_mtok: must be a decimal such as "2.50", got "abc"",
        "pricing.models[0].rates.output_tokens: is not a known rate; expected one of input_mtok, cache_read_mtok, cache_write_mtok, cache_write_1h_mtok, output_mtok, output_reasoning_mtok, input_audio_mtok, cache_audio_read_mtok, output_audio_mtok, input_image_mtok, output_image_mtok, requests_kcount, web_searches_kcount, file_searches_kcount, code_interpreter_sessions_kcount, images_count, seconds_count, tool_calls_kcount, pages_kcount",
        "pricing.models[1].provider: is required",
        "pricing.models[1].prices[0].rates.input_mtok: must not be negative, got -1",
        "pricing.models[1].prices[0].effective_from: must be an ISO date such as "2026-03-13", got "yesterday"",
        "pricing.models[2].rates: is required: give rates, or prices as a list of dated entries",
        "pricing.models[3].match.regex: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group",
        "pricing.aliases[0]: must be an object {provider, model, maps_to: {provider, model}}",
        "pricing.discounts.openai: must be at most 100, got 120",
      ]
    `);
  });

  it("accepts an absent section as no overrides", () => {
    expect(validatePricingConfig(undefined)).toEqual({ ok: true, value: {} });
  });
});
