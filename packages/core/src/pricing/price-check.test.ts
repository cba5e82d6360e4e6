import { describe, expect, it } from "vitest";
import { applyCorrections, parseCorrections } from "./corrections.js";
import { type GenaiPricesProvider, modelSpecsFromGenaiPrices } from "./genai-prices.js";
import { checkAgainstLitellm } from "./price-check.js";
import { RateCard } from "./rate-card.js";

/** A fixed pair of snapshots: the price data's shape on one side, LiteLLM's on the other. */
const GENAI: GenaiPricesProvider[] = [
  {
    id: "openai",
    models: [
      {
        id: "gpt-a",
        match: { or: [{ equals: "gpt-a" }, { equals: "gpt-a-2026-01-01" }] },
        prices: { input_mtok: 2.5, cache_read_mtok: 1.25, output_mtok: 10 },
      },
      { id: "gpt-b", match: { equals: "gpt-b" }, prices: { input_mtok: 1, output_mtok: 4, web_searches_kcount: 10 } },
      { id: "gpt-c", match: { starts_with: "gpt-c" }, prices: { input_mtok: 0.1, output_mtok: 0.4 } },
    ],
  },
  {
    id: "anthropic",
    models: [
      {
        id: "claude-x",
        match: { starts_with: "claude-x" },
        prices: {
          input_mtok: { base: 3, tiers: [{ start: 200000, price: 6 }] },
          output_mtok: { base: 15, tiers: [{ start: 200000, price: 22.5 }] },
          cache_write_mtok: 3.75,
          cache_read_mtok: 0.3,
        },
      },
    ],
  },
  { id: "google", models: [{ id: "gemini-z", match: { equals: "gemini-z" }, prices: { input_mtok: 0.3, output_mtok: 2.5 } }] },
  { id: "aws", models: [] },
];

const LITELLM = {
  sample_spec: { input_cost_per_token: 0, litellm_provider: "one of …" },
  // Agrees on every rate: no line.
  "gpt-a": {
    litellm_provider: "openai",
    input_cost_per_token: 2.5e-6,
    cache_read_input_token_cost: 1.25e-6,
    output_cost_per_token: 1e-5,
    input_cost_per_token_batches: 1.25e-6,
    output_cost_per_token_batches: 5e-6,
    input_cost_per_token_flex: 1.25e-6,
  },
  // Output differs, a cached rate only LiteLLM has, a per-request fee, priority pricing we do not know, a lower web search fee.
  "gpt-b": {
    litellm_provider: "openai",
    input_cost_per_token: 1e-6,
    cache_read_input_token_cost: 2.5e-7,
    output_cost_per_token: 8e-6,
    input_cost_per_request: 0.002,
    input_cost_per_token_priority: 2e-6,
    search_context_cost_per_query: { search_context_size_low: 0.005, search_context_size_medium: 0.005 },
  },
  // Two names of one model with the same wrong input rate: one line naming both.
  "gpt-c": { litellm_provider: "openai", input_cost_per_token: 2e-7, output_cost_per_token: 4e-7 },
  "gpt-c-latest": { litellm_provider: "openai", input_cost_per_token: 2e-7, output_cost_per_token: 4e-7 },
  // Long-context tiers: LiteLLM lacks the output tier and has a cache-write tier we lack; a 1-hour write only it prices.
  "claude-x-20260101": {
    litellm_provider: "anthropic",
    input_cost_per_token: 3e-6,
    input_cost_per_token_above_200k_tokens: 6e-6,
    output_cost_per_token: 1.5e-5,
    cache_creation_input_token_cost: 3.75e-6,
    cache_creation_input_token_cost_above_200k_tokens: 7.5e-6,
    cache_creation_input_token_cost_above_1hr: 6e-6,
    cache_read_input_token_cost: 3e-7,
  },
  // A routing prefix is dropped; the batch price disagrees with Google's 50%.
  "gemini/gemini-z": {
    litellm_provider: "gemini",
    input_cost_per_token: 3e-7,
    output_cost_per_token: 2.5e-6,
    input_cost_per_token_batches: 2e-7,
  },
  // Claude on Bedrock: the price data has no aws model, so it is not a model both know.
  "anthropic.claude-x-v1:0": { litellm_provider: "bedrock", input_cost_per_token: 9e-6, output_cost_per_token: 1e-5 },
  // A model only LiteLLM knows, and a provider we do not map.
  "gpt-unknown": { litellm_provider: "openai", input_cost_per_token: 1e-6 },
  "some-model": { litellm_provider: "nowhere", input_cost_per_token: 1e-6 },
};

const AT = Date.parse("2026-06-01T00:00:00Z");

function cards(corrections: unknown[] = []) {
  const { models, providerFallbacks } = modelSpecsFromGenaiPrices(GENAI, "genai-prices@test");
  const upstream = new RateCard(models, {}, { providerFallbacks });
  const fixed = applyCorrections(models, parseCorrections(corrections, "fixes.json"), "fixes.json");
  return { upstream, card: new RateCard(fixed, {}, { providerFallbacks }) };
}

describe("checkAgainstLitellm", () => {
  it("lists every rate the two sources disagree on, with both values", () => {
    const { card, upstream } = cards();
    const r = checkAgainstLitellm(card, upstream, LITELLM, { at: AT });
    expect(r.compared).toBe(6);
    expect(
      r.disagreements.map((d) => [`${d.provider}/${d.model}`, d.rate, d.kind, d.costtrail, d.litellm_value, d.litellm.join(",")]),
    ).toEqual([
      ["anthropic/claude-x", "cache_write_1h_mtok", "only_litellm", null, "6", "claude-x-20260101"],
      ["anthropic/claude-x", "cache_write_mtok>200000", "only_litellm", null, "7.5", "claude-x-20260101"],
      ["anthropic/claude-x", "output_mtok>200000", "only_costtrail", "22.5", null, "claude-x-20260101"],
      ["google/gemini-z", "batch:input_mtok", "differs", "0.15", "0.2", "gemini/gemini-z"],
      ["openai/gpt-b", "cache_read_mtok", "only_litellm", null, "0.25", "gpt-b"],
      ["openai/gpt-b", "output_mtok", "differs", "4", "8", "gpt-b"],
      ["openai/gpt-b", "priority:input_mtok", "only_litellm", null, "2", "gpt-b"],
      ["openai/gpt-b", "requests_kcount", "only_litellm", null, "2", "gpt-b"],
      ["openai/gpt-b", "web_searches_kcount", "differs", "10", "5", "gpt-b"],
      ["openai/gpt-c", "input_mtok", "differs", "0.1", "0.2", "gpt-c,gpt-c-latest"],
    ]);
  });

  it("limits the check to providers and to the models seen", () => {
    const { card, upstream } = cards();
    const anthropic = checkAgainstLitellm(card, upstream, LITELLM, { at: AT, providers: ["anthropic"] });
    expect(new Set(anthropic.disagreements.map((d) => d.provider))).toEqual(new Set(["anthropic"]));
    expect(anthropic.compared).toBe(1);
    const seen = checkAgainstLitellm(card, upstream, LITELLM, { at: AT, models: new Set(["openai/gpt-c"]) });
    expect(seen.compared).toBe(2);
    expect(seen.disagreements.map((d) => d.rate)).toEqual(["input_mtok"]);
  });

  it("shows a corrected rate beside the upstream value it replaced, and drops what the correction settled", () => {
    const { card, upstream } = cards([
      {
        id: "gpt-b-output",
        provider: "openai",
        model: "gpt-b",
        rates: { output_mtok: "8", cache_read_mtok: "0.5" },
        source_url: "https://openai.example/pricing",
        checked_on: "2026-12-01",
        reason: "test",
      },
    ]);
    const r = checkAgainstLitellm(card, upstream, LITELLM, { at: AT, models: new Set(["openai/gpt-b"]) });
    expect(r.disagreements.find((d) => d.rate === "output_mtok")).toBeUndefined();
    expect(r.disagreements.find((d) => d.rate === "cache_read_mtok")).toMatchObject({
      kind: "differs",
      costtrail: "0.5",
      upstream: null,
      litellm_value: "0.25",
      corrections: ["gpt-b-output"],
    });
  });

  it("refuses a table that is not LiteLLM's shape", () => {
    const { card, upstream } = cards();
    expect(() => checkAgainstLitellm(card, upstream, [1, 2], { at: AT })).toThrow("must be a JSON object keyed by model name");
  });
});
