import { describe, expect, it } from "vitest";
import type { UsageBuckets } from "../usage/buckets.js";
import { applyCorrections, parseCorrections } from "./corrections.js";
import { loadDefaultRateCard, shippedCorrections, upstreamModels } from "./default-rate-card.js";
import type { ModelPriceSpec } from "./model-price.js";
import { RateCard } from "./rate-card.js";

/**
 * One hand-computed call per shipped correction (rates in USD per million tokens):
 * the cost it has under the corrected rate, worked out in the comment beside it.
 */
const CASES: ReadonlyArray<{ id: string; provider: string; model: string; at: string; buckets: UsageBuckets; cost: string }> = [
  {
    id: "openai-ft-gpt-4o-cached-input",
    provider: "openai",
    model: "ft:gpt-4o-2024-08-06:acme::a1b2",
    at: "2026-06-01T00:00:00Z",
    // 0.2M × 3.75 + 0.8M × 1.875 + 0.01M × 15 = 0.75 + 1.5 + 0.15
    buckets: { input_tokens: 200_000, cache_read_tokens: 800_000, output_tokens: 10_000 },
    cost: "2.4",
  },
  {
    id: "openai-ft-gpt-4o-mini-cached-input",
    provider: "openai",
    model: "ft:gpt-4o-mini-2024-07-18:acme::a1b2",
    at: "2026-06-01T00:00:00Z",
    // 0.1M × 0.3 + 0.4M × 0.15 + 0.05M × 1.2 = 0.03 + 0.06 + 0.06
    buckets: { input_tokens: 100_000, cache_read_tokens: 400_000, output_tokens: 50_000 },
    cost: "0.15",
  },
  {
    id: "openai-ft-gpt-4o-mini-legacy-cached-input",
    provider: "openai",
    model: "gpt-4o-mini-2024-07-18.ft-a1b2c3",
    at: "2026-06-01T00:00:00Z",
    buckets: { input_tokens: 100_000, cache_read_tokens: 400_000, output_tokens: 50_000 },
    cost: "0.15",
  },
  {
    id: "openai-ft-gpt-4.1",
    provider: "openai",
    model: "ft:gpt-4.1-2025-04-14:acme:support:a1b2",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 3 + 2,000 × 0.75 + 500 × 12 = 3,000 + 1,500 + 6,000 per million
    buckets: { input_tokens: 1_000, cache_read_tokens: 2_000, output_tokens: 500 },
    cost: "0.0105",
  },
  {
    id: "openai-ft-gpt-4.1-mini",
    provider: "openai",
    model: "ft:gpt-4.1-mini-2025-04-14:acme::a1b2",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 0.8 + 2,000 × 0.2 + 500 × 3.2 = 800 + 400 + 1,600 per million
    buckets: { input_tokens: 1_000, cache_read_tokens: 2_000, output_tokens: 500 },
    cost: "0.0028",
  },
  {
    id: "openai-ft-gpt-4.1-nano",
    provider: "openai",
    model: "ft:gpt-4.1-nano-2025-04-14:acme::a1b2",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 0.2 + 2,000 × 0.05 + 500 × 0.8 = 200 + 100 + 400 per million
    buckets: { input_tokens: 1_000, cache_read_tokens: 2_000, output_tokens: 500 },
    cost: "0.0007",
  },
  {
    id: "openai-ft-o4-mini",
    provider: "openai",
    model: "ft:o4-mini-2025-04-16:acme::a1b2",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 4 + 2,000 × 1 + 500 × 16 = 4,000 + 2,000 + 8,000 per million
    buckets: { input_tokens: 1_000, cache_read_tokens: 2_000, output_tokens: 500 },
    cost: "0.014",
  },
  {
    id: "openai-o3-cached-input-before-cut",
    provider: "openai",
    model: "o3-2025-04-16",
    at: "2025-05-01T00:00:00Z",
    // 10,000 × 10 + 100,000 × 2.5 + 1,000 × 40 = 100,000 + 250,000 + 40,000 per million
    buckets: { input_tokens: 10_000, cache_read_tokens: 100_000, output_tokens: 1_000 },
    cost: "0.39",
  },
  {
    id: "openai-gpt-4o-audio-preview-audio",
    provider: "openai",
    model: "gpt-4o-audio-preview-2024-12-17",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 2.5 + 10,000 × 40 + 100 × 10 + 5,000 × 80 = 2,500 + 400,000 + 1,000 + 400,000 per million
    buckets: { input_tokens: 1_000, input_audio_tokens: 10_000, output_tokens: 100, output_audio_tokens: 5_000 },
    cost: "0.8035",
  },
  {
    id: "openai-gpt-4o-audio-preview-2024-10-01",
    provider: "openai",
    model: "gpt-4o-audio-preview-2024-10-01",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 2.5 + 10,000 × 100 + 100 × 10 + 5,000 × 200 = 2,500 + 1,000,000 + 1,000 + 1,000,000 per million
    buckets: { input_tokens: 1_000, input_audio_tokens: 10_000, output_tokens: 100, output_audio_tokens: 5_000 },
    cost: "2.0035",
  },
  {
    id: "openai-gpt-4o-mini-audio-preview-audio",
    provider: "openai",
    model: "gpt-4o-mini-audio-preview-2024-12-17",
    at: "2026-06-01T00:00:00Z",
    // 1,000 × 0.15 + 10,000 × 10 + 100 × 0.6 + 5,000 × 20 = 150 + 100,000 + 60 + 100,000 per million
    buckets: { input_tokens: 1_000, input_audio_tokens: 10_000, output_tokens: 100, output_audio_tokens: 5_000 },
    cost: "0.20021",
  },
  {
    id: "openai-gpt-5-search-api",
    provider: "openai",
    model: "gpt-5-search-api-2025-10-14",
    at: "2026-06-01T00:00:00Z",
    // 10,000 × 1.25 + 20,000 × 0.125 + 2,000 × 10 = 12,500 + 2,500 + 20,000 per million
    buckets: { input_tokens: 10_000, cache_read_tokens: 20_000, output_tokens: 2_000 },
    cost: "0.035",
  },
  {
    id: "anthropic-claude-sonnet-4-long-context",
    provider: "anthropic",
    model: "claude-sonnet-4-20250514",
    at: "2026-06-01T00:00:00Z",
    // 225,000 input tokens in all, over 200K, so every bucket takes its long-context rate:
    // 150,000 × 6 + 60,000 × 0.6 + 10,000 × 7.5 + 5,000 × 12 + 2,000 × 22.5
    // = 900,000 + 36,000 + 75,000 + 60,000 + 45,000 per million
    buckets: {
      input_tokens: 150_000,
      cache_read_tokens: 60_000,
      cache_write_5m_tokens: 10_000,
      cache_write_1h_tokens: 5_000,
      output_tokens: 2_000,
    },
    cost: "1.116",
  },
];

describe("shipped price corrections", () => {
  it("each has a hand-computed case, and prices it at the corrected rate with the correction named", async () => {
    expect(CASES.map((c) => c.id).sort()).toEqual(
      shippedCorrections()
        .map((c) => c.id)
        .sort(),
    );
    const card = await loadDefaultRateCard();
    for (const c of CASES) {
      const r = card.price({ provider: c.provider, model: c.model, timestamp: c.at, usage: { buckets: c.buckets, units: {} } });
      expect({ id: c.id, status: r.status, cost: r.cost?.toString() }).toEqual({ id: c.id, status: "priced", cost: c.cost });
      expect(r.entry?.id).toContain(`+fix:${c.id}`);
      expect(r.entry?.corrections.map((x) => x.id)).toContain(c.id);
      expect(r.notes.join("; ")).toContain(`rate corrected by ${c.id}, checked against https://`);
    }
  });

  it("leave prices outside a correction's dates as upstream has them", async () => {
    const card = await loadDefaultRateCard();
    // o3 after the 2025-06-10 cut: 10,000 × 2 + 100,000 × 0.5 + 1,000 × 8 = 78,000 per million.
    const after = card.price({
      provider: "openai",
      model: "o3",
      timestamp: "2025-07-01T00:00:00Z",
      usage: { buckets: { input_tokens: 10_000, cache_read_tokens: 100_000, output_tokens: 1_000 }, units: {} },
    });
    expect(after.cost?.toString()).toBe("0.078");
    expect(after.entry?.id).toBe("genai-prices@0.1.8:openai/o3@2025-06-10");
    expect(after.entry?.corrections).toEqual([]);
    // Sonnet 4 under 200K input keeps its base rates: 100,000 × 3 + 1,000 × 15 = 315,000 per million.
    const short = card.price({
      provider: "anthropic",
      model: "claude-sonnet-4-20250514",
      timestamp: "2026-06-01T00:00:00Z",
      usage: { buckets: { input_tokens: 100_000, output_tokens: 1_000 }, units: {} },
    });
    expect(short.cost?.toString()).toBe("0.315");
  });

  it("change only what they name: every other model prices as upstream does", async () => {
    const { models, providerFallbacks } = await upstreamModels();
    const upstream = new RateCard(models, {}, { providerFallbacks });
    const corrected = await loadDefaultRateCard();
    const usage = { buckets: { input_tokens: 1_234, cache_read_tokens: 567, output_tokens: 89 }, units: {} };
    const corrections = shippedCorrections();
    let compared = 0;
    for (const m of models) {
      if (corrections.some((c) => c.provider === m.provider && c.model === m.model)) continue;
      if (m.match && !("equals" in m.match) && !("or" in m.match)) continue;
      const a = upstream.price({ provider: m.provider, model: m.model, timestamp: "2026-06-01T00:00:00Z", usage });
      const b = corrected.price({ provider: m.provider, model: m.model, timestamp: "2026-06-01T00:00:00Z", usage });
      expect({ model: `${m.provider}/${m.model}`, cost: b.cost?.toString() }).toEqual({
        model: `${m.provider}/${m.model}`,
        cost: a.cost?.toString(),
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(500);
  });
});

const BASE: ModelPriceSpec[] = [
  {
    provider: "acme",
    model: "m1",
    source: "test",
    prices: [
      { rates: { input_mtok: "1", output_mtok: "2" } },
      { effective_from: "2026-03-01", rates: { input_mtok: "0.5", output_mtok: "1" } },
    ],
  },
];
const ONE_M = { buckets: { input_tokens: 1_000_000 }, units: {} };

function correction(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    id: "fix-1",
    provider: "acme",
    model: "m1",
    rates: { input_mtok: "0.8" },
    source_url: "https://acme.example/pricing",
    checked_on: "2026-12-01",
    reason: "test",
    ...extra,
  };
}

describe("applyCorrections", () => {
  it("splits a model's dated entries at the correction's dates and patches only inside them", () => {
    const fixes = parseCorrections([correction({ effective_from: "2026-02-01", effective_until: "2026-04-01" })], "t.json");
    const card = new RateCard(applyCorrections(BASE, fixes, "t.json"));
    const at = (day: string) => card.price({ provider: "acme", model: "m1", timestamp: `${day}T12:00:00Z`, usage: ONE_M });
    expect(at("2026-01-15").cost?.toString()).toBe("1");
    expect(at("2026-01-15").entry?.corrections).toEqual([]);
    expect(at("2026-02-15").cost?.toString()).toBe("0.8");
    expect(at("2026-02-15").entry?.id).toBe("test:acme/m1@2026-02-01+fix:fix-1");
    // Upstream's own change inside the window is overridden too: the correction names input_mtok.
    expect(at("2026-03-15").cost?.toString()).toBe("0.8");
    const both = card.price({
      provider: "acme",
      model: "m1",
      timestamp: "2026-03-15T12:00:00Z",
      usage: { buckets: { input_tokens: 1_000_000, output_tokens: 1_000_000 }, units: {} },
    });
    expect(both.cost?.toString()).toBe("1.8");
    expect(at("2026-04-01").cost?.toString()).toBe("0.5");
    expect(at("2026-04-01").entry?.id).toBe("test:acme/m1@2026-04-01");
  });

  it("drops the rates a correction removes, so the bucket falls back as the provider charges it", () => {
    const spec: ModelPriceSpec[] = [
      { provider: "acme", model: "m1", source: "test", prices: [{ rates: { input_mtok: "2", cache_read_mtok: "0.2" } }] },
    ];
    const fixes = parseCorrections([correction({ rates: undefined, remove: ["cache_read_mtok"] })], "t.json");
    const card = new RateCard(applyCorrections(spec, fixes, "t.json"));
    const r = card.price({ provider: "acme", model: "m1", timestamp: 0, usage: { buckets: { cache_read_tokens: 1_000_000 }, units: {} } });
    expect(r.cost?.toString()).toBe("2");
  });

  it("adds a model upstream lacks ahead of upstream's, and refuses one that names nothing", () => {
    const added = parseCorrections(
      [correction({ model: "m1-special", match: { starts_with: "m1" }, rates: { input_mtok: "3" } })],
      "t.json",
    );
    const card = new RateCard(applyCorrections(BASE, added, "t.json"));
    expect(card.price({ provider: "acme", model: "m1", timestamp: 0, usage: ONE_M }).cost?.toString()).toBe("3");
    const orphan = parseCorrections([correction({ model: "nope" })], "t.json");
    expect(() => applyCorrections(BASE, orphan, "t.json")).toThrow(
      "t.json: [0].model: names no acme model of the price data; give match to add it as a new model",
    );
  });
});

describe("parseCorrections", () => {
  it("refuses a malformed entry with the file, the key path and the reason", () => {
    const bad = [
      correction({}),
      correction({ id: "fix-1", rates: { input_mtok: "abc", bogus_mtok: "1" } }),
      correction({ id: "Fix 3", source_url: "acme pricing page", checked_on: "yesterday", surprise: true }),
      correction({ id: "fix-4", effective_from: "2026-05-01", effective_until: "2026-04-01", reason: "" }),
    ];
    let message = "";
    try {
      parseCorrections(bad, "price-corrections.json");
    } catch (e) {
      expect((e as { code: string }).code).toBe("CT_INVALID_RATE_CARD");
      message = (e as Error).message;
    }
    expect(message.split("\n")).toEqual([
      'price-corrections.json: [1].rates.input_mtok: must be a decimal such as "2.50", got "abc"',
      `price-corrections.json: [1].rates.bogus_mtok: is not a known rate; expected one of ${"input_mtok"}, cache_read_mtok, cache_write_mtok, cache_write_1h_mtok, output_mtok, output_reasoning_mtok, input_audio_mtok, cache_audio_read_mtok, output_audio_mtok, input_image_mtok, output_image_mtok, requests_kcount, web_searches_kcount, file_searches_kcount, code_interpreter_sessions_kcount, images_count, seconds_count, tool_calls_kcount, pages_kcount`,
      "price-corrections.json: [2].surprise: is not a known field; expected one of id, provider, model, match, effective_from, effective_until, rates, remove, source_url, checked_on, reason",
      'price-corrections.json: [2].id: must be lower-case letters, digits, ".", "_" or "-", got "Fix 3"',
      `price-corrections.json: [2].source_url: must be the https address of the provider's page, got "acme pricing page"`,
      'price-corrections.json: [2].checked_on: must be the date checked, such as "2026-12-01", got "yesterday"',
      "price-corrections.json: [3].effective_until: must be after effective_from (2026-05-01), got 2026-04-01",
      "price-corrections.json: [3].reason: must be a non-empty string",
    ]);
    // The valid first entry parses alone; the repeated id is named when the rest are fine.
    expect(() => parseCorrections([correction({}), correction({})], "f.json")).toThrow(
      'f.json: [1].id: repeats the id "fix-1"; ids are unique',
    );
    expect(() => parseCorrections({}, "f.json")).toThrow("f.json: (top): must be a list of corrections");
  });
});
