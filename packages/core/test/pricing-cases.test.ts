/**
 * Pricing cases computed by hand from published rates. Each case names the rate it uses,
 * where it was published and the date the rate took effect, and shows the arithmetic.
 * The rates are those of the bundled price data (@pydantic/genai-prices@0.1.8), which
 * carries the providers' published prices; a data update that changed one would fail here
 * and be looked at, which is the point.
 *
 * Sources: OpenAI https://platform.openai.com/docs/pricing ; Anthropic
 * https://www.anthropic.com/pricing#api and https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing ;
 * Google https://ai.google.dev/gemini-api/docs/pricing ; DeepSeek https://api-docs.deepseek.com/quick_start/pricing ;
 * AWS https://aws.amazon.com/bedrock/pricing/ ; Perplexity https://docs.perplexity.ai/guides/pricing
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type NormalizedUsage, type PriceResult, type PricingConfig, type RateCard, normalizeUsage } from "../src/index.js";
import { loadDefaultRateCard } from "../src/pricing/default-rate-card.js";

let card: RateCard;
let configured: RateCard;

const CONFIG: PricingConfig = {
  models: [
    // A self-hosted model priced by the platform team at an internal transfer rate.
    { provider: "acme", model: "llama-3-70b-internal", prices: [{ rates: { input_mtok: "0.5", output_mtok: "1.5" } }] },
    // A negotiated gpt-4o price from 2026-01-01; earlier events keep the list price.
    {
      provider: "openai",
      model: "gpt-4o",
      match: { starts_with: "gpt-4o-2024-08-06" },
      prices: [{ effective_from: "2026-01-01", rates: { input_mtok: "2.0", output_mtok: "8.0", cache_read_mtok: "1.0" } }],
    },
    // A fine-tuned gpt-4o-mini: OpenAI's fine-tuned inference rates ($0.30 in, $0.15 cached, $1.20 out).
    {
      provider: "openai",
      model: "ft:gpt-4o-mini",
      match: { starts_with: "ft:gpt-4o-mini-2024-07-18:" },
      prices: [{ rates: { input_mtok: "0.30", cache_read_mtok: "0.15", output_mtok: "1.20" } }],
    },
  ],
  aliases: [{ provider: "azure", model: "prod-gpt4o-eastus", maps_to: { provider: "openai", model: "gpt-4o-2024-11-20" } }],
};

beforeAll(async () => {
  card = await loadDefaultRateCard();
  configured = await loadDefaultRateCard(CONFIG);
});

function usage(api: string, raw: unknown): NormalizedUsage {
  const r = normalizeUsage(api, raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

function price(
  provider: string,
  model: string,
  at: string,
  api: string,
  raw: unknown,
  opts: { batch?: boolean; serviceTier?: string; card?: RateCard; units?: NormalizedUsage["units"]; callerCost?: string } = {},
): PriceResult {
  const u = usage(api, raw);
  return (opts.card ?? card).price({
    provider,
    model,
    timestamp: at,
    usage: { buckets: u.buckets, units: { ...u.units, ...opts.units } },
    ...(opts.batch && { batch: true }),
    ...(opts.serviceTier && { serviceTier: opts.serviceTier }),
    ...(opts.callerCost && { callerCost: opts.callerCost }),
  });
}

function cost(r: PriceResult): string | null {
  return r.cost?.toString() ?? null;
}

const NOW = "2026-11-20T10:00:00Z";

describe("OpenAI", () => {
  // gpt-4o: $2.50 in, $1.25 cached, $10 out per 1M (list price since 2024-10-01 for gpt-4o-2024-08-06).
  it("prices plain input at the input rate: 1M × $2.50", () => {
    expect(cost(price("openai", "gpt-4o", NOW, "openai.chat", { prompt_tokens: 1_000_000, completion_tokens: 0 }))).toBe("2.5");
  });

  it("prices cache reads at the cache-read rate: 176×2.5 + 1024×1.25 + 300×10 = 4720 µ$", () => {
    const r = price("openai", "gpt-4o", NOW, "openai.chat", {
      prompt_tokens: 1200,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1024 },
    });
    expect(cost(r)).toBe("0.00472");
    expect(r.lines.map((l) => [l.bucket, l.quantity, l.rate])).toEqual([
      ["input_tokens", 176, "2.5"],
      ["cache_read_tokens", 1024, "1.25"],
      ["output_tokens", 300, "10"],
    ]);
  });

  it("prices a dated snapshot by its model's entry: gpt-4o-2024-08-06 = gpt-4o", () => {
    const r = price("openai", "gpt-4o-2024-08-06", NOW, "openai.chat", {
      prompt_tokens: 1200,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1024 },
    });
    expect(cost(r)).toBe("0.00472");
    expect(r.entry?.model).toBe("gpt-4o");
  });

  // gpt-4o-2024-05-13 kept its launch price: $5 in, $15 out.
  it("keeps a snapshot with its own price apart: 1000×5 + 1000×15 = 0.02", () => {
    expect(cost(price("openai", "gpt-4o-2024-05-13", NOW, "openai.chat", { prompt_tokens: 1000, completion_tokens: 1000 }))).toBe("0.02");
  });

  // gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out (2024-07-18).
  it("prices gpt-4o-mini: 5000×0.15 + 5000×0.075 + 2000×0.6 = 0.002325", () => {
    expect(
      cost(
        price("openai", "gpt-4o-mini", NOW, "openai.chat", {
          prompt_tokens: 10_000,
          completion_tokens: 2000,
          prompt_tokens_details: { cached_tokens: 5000 },
        }),
      ),
    ).toBe("0.002325");
  });

  // Batch API: 50% of standard prices (OpenAI batch guide).
  it("halves a batch call: 0.002325 × 0.5 = 0.0011625", () => {
    const r = price(
      "openai",
      "gpt-4o-mini",
      NOW,
      "openai.chat",
      { prompt_tokens: 10_000, completion_tokens: 2000, prompt_tokens_details: { cached_tokens: 5000 } },
      { batch: true },
    );
    expect(cost(r)).toBe("0.0011625");
    expect(r.modifiers).toEqual([{ kind: "batch", name: "batch", multiplier: "0.5" }]);
  });

  // o3: $10 in / $40 out until 2025-06-10, then $2 in / $8 out (OpenAI price cut announced 2025-06-10).
  it("prices o3 before its price change by the old entry: 2000×10 + 1000×40 = 0.06", () => {
    const r = price("openai", "o3", "2025-06-01T12:00:00Z", "openai.responses", {
      input_tokens: 2000,
      output_tokens: 1000,
      output_tokens_details: { reasoning_tokens: 600 },
    });
    expect(cost(r)).toBe("0.06");
    expect(r.entry?.effective_from).toBeNull();
  });

  it("prices o3 after its price change by the new entry: 2000×2 + 400×8 + 600×8 = 0.012", () => {
    const r = price("openai", "o3", "2025-07-01T00:00:00Z", "openai.responses", {
      input_tokens: 2000,
      output_tokens: 1000,
      output_tokens_details: { reasoning_tokens: 600 },
    });
    expect(cost(r)).toBe("0.012");
    expect(r.entry?.effective_from).toBe("2025-06-10");
  });

  it("applies the new o3 price from the first millisecond of its effective date", () => {
    const raw = { input_tokens: 2000, output_tokens: 1000 };
    expect(cost(price("openai", "o3", "2025-06-09T23:59:59.999Z", "openai.responses", raw))).toBe("0.06");
    expect(cost(price("openai", "o3", "2025-06-10T00:00:00.000Z", "openai.responses", raw))).toBe("0.012");
  });

  // Flex processing is billed at Batch API rates (OpenAI flex processing guide).
  it("prices flex service tier at half: 0.012 × 0.5 = 0.006", () => {
    const r = price(
      "openai",
      "o3",
      NOW,
      "openai.responses",
      { input_tokens: 2000, output_tokens: 1000, output_tokens_details: { reasoning_tokens: 600 } },
      { serviceTier: "flex" },
    );
    expect(cost(r)).toBe("0.006");
    expect(r.modifiers[0]).toEqual({ kind: "service_tier", name: "flex", multiplier: "0.5" });
  });

  // o1: $15 in, $7.50 cached, $60 out (2024-12-17).
  it("prices reasoning tokens at the output rate: 1000×15 + 4000×7.5 + 500×60 + 2500×60 = 0.225", () => {
    const r = price("openai", "o1", NOW, "openai.responses", {
      input_tokens: 5000,
      output_tokens: 3000,
      input_tokens_details: { cached_tokens: 4000 },
      output_tokens_details: { reasoning_tokens: 2500 },
    });
    expect(cost(r)).toBe("0.225");
    expect(r.lines.find((l) => l.bucket === "reasoning_tokens")?.rate_key).toBe("output_mtok");
  });

  // gpt-4.1: $2 in, $0.50 cached, $8 out (2025-04-14).
  it("prices gpt-4.1 responses: 50000×2 + 50000×0.5 + 10000×8 = 0.205", () => {
    expect(
      cost(
        price("openai", "gpt-4.1-2025-04-14", NOW, "openai.responses", {
          input_tokens: 100_000,
          output_tokens: 10_000,
          input_tokens_details: { cached_tokens: 50_000 },
        }),
      ),
    ).toBe("0.205");
  });

  // text-embedding-3-small $0.02, -large $0.13 per 1M (2024-01-25).
  it("prices embeddings: 1M × 0.02 = 0.02 and 8191 × 0.13 = 0.00106483", () => {
    expect(
      cost(price("openai", "text-embedding-3-small", NOW, "openai.embeddings", { prompt_tokens: 1_000_000, total_tokens: 1_000_000 })),
    ).toBe("0.02");
    expect(cost(price("openai", "text-embedding-3-large", NOW, "openai.embeddings", { prompt_tokens: 8191, total_tokens: 8191 }))).toBe(
      "0.00106483",
    );
  });

  // gpt-realtime: text $4 in / $16 out, audio $32 in / $64 out (2025-08-28).
  it("prices audio tokens at the audio rates: 400×4 + 600×32 + 100×16 + 400×64 = 0.048", () => {
    const r = price("openai", "gpt-realtime", NOW, "openai.chat", {
      prompt_tokens: 1000,
      completion_tokens: 500,
      prompt_tokens_details: { audio_tokens: 600 },
      completion_tokens_details: { audio_tokens: 400 },
    });
    expect(cost(r)).toBe("0.048");
    expect(r.notes).toEqual([]);
  });

  // gpt-4o-audio-preview: text $2.50 / $10, audio $40 / $80 (a correction: the price data has no audio rates).
  it("prices the audio preview's audio at its audio rates: 600×2.5 + 400×40 + 200×10 + 300×80 = 0.0435", () => {
    const r = price("openai", "gpt-4o-audio-preview-2024-12-17", NOW, "openai.chat", {
      prompt_tokens: 1000,
      completion_tokens: 500,
      prompt_tokens_details: { audio_tokens: 400 },
      completion_tokens_details: { audio_tokens: 300 },
    });
    expect(cost(r)).toBe("0.0435");
    expect(r.notes.join("\n")).toContain("rate corrected by openai-gpt-4o-audio-preview-audio");
  });

  it("says so when audio falls back to the text rate because the rate card has no audio rate", () => {
    const r = price("openai", "gpt-4o-2024-08-06", NOW, "openai.chat", {
      prompt_tokens: 1000,
      completion_tokens: 500,
      prompt_tokens_details: { audio_tokens: 400 },
      completion_tokens_details: { audio_tokens: 300 },
    });
    // 600×2.5 + 400×2.5 + 200×10 + 300×10 = 7500 µ$
    expect(cost(r)).toBe("0.0075");
    expect(r.notes.join("\n")).toContain("input_audio_tokens priced at input_mtok");
    expect(r.notes.join("\n")).toContain("output_audio_tokens priced at output_mtok");
  });

  // Web search tool calls: $10 per 1,000 calls for gpt-4o (OpenAI tools pricing).
  it("adds per-search fees: 1000×2.5 + 100×10 + 3 × $10/1000 = 0.0335", () => {
    const r = price(
      "openai",
      "gpt-4o",
      NOW,
      "openai.chat",
      { prompt_tokens: 1000, completion_tokens: 100 },
      { units: { web_search_calls: 3 } },
    );
    expect(cost(r)).toBe("0.0335");
    expect(r.lines.at(-1)).toMatchObject({ bucket: "web_search_calls", quantity: 3, rate: "10", per: 1000 });
  });

  it("prices zero usage at exactly 0, not unpriced", () => {
    const r = price("openai", "gpt-4o", NOW, "openai.chat", { prompt_tokens: 0, completion_tokens: 0 });
    expect(r.status).toBe("priced");
    expect(cost(r)).toBe("0");
  });
});

describe("Anthropic", () => {
  // claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 5m write, $6 1h write, $15 out; >200k input: $6/$0.60/$7.50/$12/$22.50 (2025-09-29).
  it("prices plain Sonnet 4.5: 1000×3 + 500×15 = 0.0105", () => {
    expect(
      cost(price("anthropic", "claude-sonnet-4-5-20250929", NOW, "anthropic.messages", { input_tokens: 1000, output_tokens: 500 })),
    ).toBe("0.0105");
  });

  it("prices cache reads at 0.1× input: 100×3 + 10000×0.3 + 200×15 = 0.0063", () => {
    expect(
      cost(
        price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", {
          input_tokens: 100,
          output_tokens: 200,
          cache_read_input_tokens: 10_000,
        }),
      ),
    ).toBe("0.0063");
  });

  it("prices 5-minute cache writes at 1.25× input: 50×3 + 2000×3.75 + 100×15 = 0.00915", () => {
    expect(
      cost(
        price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", {
          input_tokens: 50,
          output_tokens: 100,
          cache_creation_input_tokens: 2000,
        }),
      ),
    ).toBe("0.00915");
  });

  it("prices 1-hour cache writes at 2× input: 50×3 + 2000×6 + 100×15 = 0.01365", () => {
    const raw = {
      input_tokens: 50,
      output_tokens: 100,
      cache_creation_input_tokens: 2000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 2000 },
    };
    const r = price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", raw);
    expect(cost(r)).toBe("0.01365");
    expect(r.lines.find((l) => l.bucket === "cache_write_1h_tokens")?.rate_key).toBe("cache_write_1h_mtok");
  });

  it("prices every bucket plus web searches ($10/1000): 100×3 + 1000×0.3 + 200×3.75 + 300×6 + 50×15 + 2×10000 = 0.0239", () => {
    const raw = {
      input_tokens: 100,
      output_tokens: 50,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 500,
      cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 300 },
      server_tool_use: { web_search_requests: 2 },
    };
    expect(cost(price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", raw))).toBe("0.0239");
  });

  it("prices the whole request at the long-context tier once total input passes 200k: 150000×6 + 60000×0.6 + 1000×22.5 = 0.9585", () => {
    const r = price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", {
      input_tokens: 150_000,
      cache_read_input_tokens: 60_000,
      output_tokens: 1000,
    });
    expect(cost(r)).toBe("0.9585");
    expect(r.lines.every((l) => l.tier_start === 200_000)).toBe(true);
  });

  it("keeps the base rate at exactly 200,000 input tokens: 200000×3 + 1000×15 = 0.615", () => {
    const r = price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", { input_tokens: 200_000, output_tokens: 1000 });
    expect(cost(r)).toBe("0.615");
    expect(r.lines[0]?.tier_start).toBeUndefined();
  });

  it("switches to the tier at 200,001 input tokens: 200001×6 + 1000×22.5 = 1.222506", () => {
    expect(cost(price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", { input_tokens: 200_001, output_tokens: 1000 }))).toBe(
      "1.222506",
    );
  });

  it("prices 1-hour cache writes past the tier at the tier's rate: 10×6 + 250000×12 = 3.00006", () => {
    const raw = {
      input_tokens: 10,
      output_tokens: 0,
      cache_creation_input_tokens: 250_000,
      cache_creation: { ephemeral_1h_input_tokens: 250_000 },
    };
    expect(cost(price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", raw))).toBe("3.00006");
  });

  // claude-opus-4-6 had a >200k tier until 2026-03-13, then a flat $5 / $25 (genai-prices' dated entries).
  it("prices Opus 4.6 long context by the tiered entry before 2026-03-13 and the flat one after", () => {
    const raw = { input_tokens: 250_000, output_tokens: 100 };
    // 250000×10 + 100×37.5 = 2.50375 ; 250000×5 + 100×25 = 1.2525
    expect(cost(price("anthropic", "claude-opus-4-6", "2026-02-01T00:00:00Z", "anthropic.messages", raw))).toBe("2.50375");
    expect(cost(price("anthropic", "claude-opus-4-6", "2026-04-01T00:00:00Z", "anthropic.messages", raw))).toBe("1.2525");
  });

  // claude-opus-4-1: $15 in, $75 out (2025-08-05); Message Batches API: 50% off.
  it("halves a batch call on Opus 4.1: (10000×15 + 2000×75) × 0.5 = 0.15", () => {
    expect(
      cost(
        price(
          "anthropic",
          "claude-opus-4-1-20250805",
          NOW,
          "anthropic.messages",
          { input_tokens: 10_000, output_tokens: 2000 },
          { batch: true },
        ),
      ),
    ).toBe("0.15");
  });

  // claude-haiku-4-5: $1 in, $0.10 read, $1.25 write, $5 out (2025-10-15).
  it("prices Haiku 4.5: 2000×1 + 8000×0.1 + 1000×1.25 + 500×5 = 0.00655", () => {
    expect(
      cost(
        price("anthropic", "claude-haiku-4-5", NOW, "anthropic.messages", {
          input_tokens: 2000,
          cache_read_input_tokens: 8000,
          cache_creation_input_tokens: 1000,
          output_tokens: 500,
        }),
      ),
    ).toBe("0.00655");
  });

  it("prices thinking tokens at the output rate: 16×3 + 13637×0.3 + 7049×3.75 + 344×15 = (Sonnet 4.5 rates)", () => {
    const raw = {
      input_tokens: 16,
      cache_read_input_tokens: 13_637,
      cache_creation_input_tokens: 7049,
      output_tokens: 344,
      output_tokens_details: { thinking_tokens: 33 },
    };
    // 48 + 4091.1 + 26433.75 + 5160 = 35732.85 µ$
    expect(cost(price("anthropic", "claude-sonnet-4-5", NOW, "anthropic.messages", raw))).toBe("0.03573285");
  });
});

describe("cloud platforms and name forms", () => {
  it("prices a Vertex AI model name with @version: claude-sonnet-4-5@20250929 at $3/$15", () => {
    const r = price("vertex", "claude-sonnet-4-5@20250929", NOW, "anthropic.messages", { input_tokens: 1000, output_tokens: 500 });
    expect(cost(r)).toBe("0.0105");
  });

  // Bedrock: in-region (regional and geo cross-region) Sonnet 4.5 carries a 10% premium: $3.30 / $0.33 / $4.125 / $16.50.
  it("prices a Bedrock geo inference profile at the regional rate: 1000×3.3 + 2000×0.33 + 400×4.125 + 500×16.5 = 0.01386", () => {
    const raw = { inputTokens: 1000, outputTokens: 500, cacheReadInputTokens: 2000, cacheWriteInputTokens: 400, totalTokens: 3900 };
    const r = price("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", NOW, "bedrock.converse", raw);
    expect(cost(r)).toBe("0.01386");
    expect(r.entry?.model).toBe("regional.anthropic.claude-sonnet-4-5-20250929-v1:0");
  });

  it("prices a Bedrock global inference profile at the global rate: 1000×3 + 500×15 = 0.0105", () => {
    const r = price("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", NOW, "bedrock.converse", {
      inputTokens: 1000,
      outputTokens: 500,
      totalTokens: 1500,
    });
    expect(cost(r)).toBe("0.0105");
  });

  // Amazon Nova Pro: $0.80 in, $0.20 cached, $3.20 out.
  it("prices Amazon Nova Pro on Bedrock: 1000×0.8 + 3000×0.2 + 100×3.2 = 0.00172", () => {
    expect(
      cost(
        price("bedrock", "us.amazon.nova-pro-v1:0", NOW, "bedrock.converse", {
          inputTokens: 1000,
          cacheReadInputTokens: 3000,
          outputTokens: 100,
        }),
      ),
    ).toBe("0.00172");
  });

  it("prices an Azure deployment name through a configured alias: 1000×2.5 + 1000×10 = 0.0125", () => {
    const r = price(
      "azure",
      "prod-gpt4o-eastus",
      NOW,
      "openai.chat",
      { prompt_tokens: 1000, completion_tokens: 1000 },
      { card: configured },
    );
    expect(cost(r)).toBe("0.0125");
    expect(r.entry?.model).toBe("gpt-4o");
  });

  it("leaves an Azure deployment name without an alias unpriced rather than guessing", () => {
    const r = price("azure", "prod-gpt4o-eastus", NOW, "openai.chat", { prompt_tokens: 1000, completion_tokens: 1000 });
    expect(r.status).toBe("unpriced");
  });
});

describe("Google Gemini", () => {
  // gemini-2.5-pro: ≤200k prompt $1.25 in / $0.125 cached / $10 out; >200k $2.50 / $0.25 / $15 (2025-06-17).
  it("prices below the tier: 10000×1.25 + (2000+1000)×10 = 0.0425", () => {
    expect(
      cost(
        price("google", "gemini-2.5-pro", NOW, "gemini", {
          promptTokenCount: 10_000,
          candidatesTokenCount: 2000,
          thoughtsTokenCount: 1000,
        }),
      ),
    ).toBe("0.0425");
  });

  it("prices above the tier: 150000×2.5 + 100000×0.25 + 1500×15 = 0.4225", () => {
    expect(
      cost(
        price("google", "gemini-2.5-pro", NOW, "gemini", {
          promptTokenCount: 250_000,
          cachedContentTokenCount: 100_000,
          candidatesTokenCount: 1000,
          thoughtsTokenCount: 500,
        }),
      ),
    ).toBe("0.4225");
  });

  // gemini-2.5-flash: text $0.30, audio $1.00 in; cached text $0.03, cached audio $0.10; $2.50 out.
  it("prices audio input at the audio rate: 6000×0.3 + 4000×1 + 1000×2.5 = 0.0083", () => {
    const raw = {
      promptTokenCount: 10_000,
      candidatesTokenCount: 1000,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 6000 },
        { modality: "AUDIO", tokenCount: 4000 },
      ],
    };
    expect(cost(price("google", "gemini-2.5-flash", NOW, "gemini", raw))).toBe("0.0083");
  });

  it("prices cached audio at the cached-audio rate: 3000×0.3 + 3000×0.03 + 2000×0.1 + 2000×1 + 100×2.5 = 0.00344", () => {
    const raw = {
      promptTokenCount: 10_000,
      cachedContentTokenCount: 5000,
      candidatesTokenCount: 100,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 6000 },
        { modality: "AUDIO", tokenCount: 4000 },
      ],
      cacheTokensDetails: [
        { modality: "TEXT", tokenCount: 3000 },
        { modality: "AUDIO", tokenCount: 2000 },
      ],
    };
    expect(cost(price("google", "gemini-2.5-flash", NOW, "gemini", raw))).toBe("0.00344");
  });

  // gemini-2.0-flash: $0.10 in, $0.40 out; Batch Mode 50% off.
  it("halves Gemini batch: (1M×0.1 + 100000×0.4) × 0.5 = 0.07", () => {
    expect(
      cost(
        price("gemini", "gemini-2.0-flash", NOW, "gemini", { promptTokenCount: 1_000_000, candidatesTokenCount: 100_000 }, { batch: true }),
      ),
    ).toBe("0.07");
  });
});

describe("time-of-day and per-request pricing", () => {
  // deepseek-chat: $0.27 in / $0.07 cached / $1.10 out 00:30–16:30 UTC; half that off-peak.
  it("prices DeepSeek at standard hours: 800000×0.27 + 200000×0.07 + 100000×1.1 = 0.34", () => {
    const raw = { prompt_tokens: 1_000_000, completion_tokens: 100_000, prompt_tokens_details: { cached_tokens: 200_000 } };
    expect(cost(price("deepseek", "deepseek-chat", "2026-04-01T10:00:00Z", "openai.chat", raw))).toBe("0.34");
  });

  it("prices DeepSeek off-peak, from the window's end (16:30Z): 800000×0.135 + 200000×0.035 + 100000×0.55 = 0.17", () => {
    const raw = { prompt_tokens: 1_000_000, completion_tokens: 100_000, prompt_tokens_details: { cached_tokens: 200_000 } };
    expect(cost(price("deepseek", "deepseek-chat", "2026-04-01T16:30:00Z", "openai.chat", raw))).toBe("0.17");
    expect(cost(price("deepseek", "deepseek-chat", "2026-04-01T20:00:00Z", "openai.chat", raw))).toBe("0.17");
  });

  // Perplexity sonar: $1 in / $1 out per 1M, plus $12 per 1,000 requests (low context size).
  it("adds the per-request fee to every call: 1000×1 + 500×1 + 1 × $12/1000 = 0.0135", () => {
    const r = price("perplexity", "sonar", NOW, "openai.chat", { prompt_tokens: 1000, completion_tokens: 500 });
    expect(cost(r)).toBe("0.0135");
    expect(r.lines.at(-1)).toMatchObject({ bucket: "requests", quantity: 1, rate: "12", per: 1000 });
  });

  it("charges the request fee once per reported request: 3 × $12/1000 = 0.036", () => {
    expect(
      cost(price("perplexity", "sonar", NOW, "openai.chat", { prompt_tokens: 0, completion_tokens: 0 }, { units: { requests: 3 } })),
    ).toBe("0.036");
  });
});

describe("configuration and unknown models", () => {
  it("marks an unknown model unpriced with a null cost, never $0", () => {
    const r = price("acme", "llama-3-70b-internal", NOW, "openai.chat", { prompt_tokens: 2000, completion_tokens: 1000 });
    expect(r.status).toBe("unpriced");
    expect(r.cost).toBeNull();
    expect(r.status === "unpriced" && r.reason).toContain("acme/llama-3-70b-internal");
  });

  it("prices a custom model from configuration: 2000×0.5 + 1000×1.5 = 0.0025", () => {
    const r = price(
      "acme",
      "llama-3-70b-internal",
      NOW,
      "openai.chat",
      { prompt_tokens: 2000, completion_tokens: 1000 },
      { card: configured },
    );
    expect(cost(r)).toBe("0.0025");
    expect(r.entry?.source).toBe("config");
  });

  it("prices a fine-tuned model matched by prefix: 500×0.3 + 500×0.15 + 1000×1.2 = 0.001425", () => {
    const raw = { prompt_tokens: 1000, completion_tokens: 1000, prompt_tokens_details: { cached_tokens: 500 } };
    const r = price("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", NOW, "openai.chat", raw, { card: configured });
    expect(cost(r)).toBe("0.001425");
    expect(r.entry?.id).toBe("config:openai/ft:gpt-4o-mini");
  });

  it("lets a dated override win from its date without repricing earlier events", () => {
    const raw = { prompt_tokens: 1000, completion_tokens: 1000 };
    const after = price("openai", "gpt-4o-2024-08-06", "2026-02-01T00:00:00Z", "openai.chat", raw, { card: configured });
    const before = price("openai", "gpt-4o-2024-08-06", "2025-12-31T23:59:59Z", "openai.chat", raw, { card: configured });
    expect(cost(after)).toBe("0.01"); // 1000×2 + 1000×8
    expect(after.entry?.id).toBe("config:openai/gpt-4o@2026-01-01");
    expect(cost(before)).toBe("0.0125"); // 1000×2.5 + 1000×10
    expect(before.entry?.source).toBe("genai-prices@0.1.8");
  });

  it("applies a negotiated discount per provider: 0.0125 × (1 − 12.5%) = 0.0109375", async () => {
    const discounted = await loadDefaultRateCard({ discounts: { openai: "12.5" } });
    const r = price("openai", "gpt-4o", NOW, "openai.chat", { prompt_tokens: 1000, completion_tokens: 1000 }, { card: discounted });
    expect(cost(r)).toBe("0.0109375");
    expect(r.modifiers).toEqual([{ kind: "discount", name: "12.5% negotiated", multiplier: "0.875" }]);
  });

  it("records a caller's estimate for an unknown model as the cost, marked as an estimate", () => {
    const r = price("acme", "mystery", NOW, "openai.chat", { prompt_tokens: 10, completion_tokens: 10 }, { callerCost: "0.42" });
    expect(r.status).toBe("priced");
    expect(cost(r)).toBe("0.42");
    expect(r.costSource).toBe("caller_estimate");
  });

  it("takes a cost the provider reported (OpenRouter's usage.cost) as provider-reported, keeping ours beside it", () => {
    const u = usage("openai.chat", { prompt_tokens: 1000, completion_tokens: 1000, cost: 0.0131 });
    const r = card.price({
      provider: "openai",
      model: "gpt-4o",
      timestamp: NOW,
      usage: u,
      ...(u.reportedCost && { providerCost: u.reportedCost }),
    });
    expect(r.costSource).toBe("provider");
    expect(cost(r)).toBe("0.0131");
    expect(r.computedCost?.toString()).toBe("0.0125");
  });

  it("keeps the computed cost beside a caller's estimate for a known model", () => {
    const r = price("openai", "gpt-4o", NOW, "openai.chat", { prompt_tokens: 1000, completion_tokens: 1000 }, { callerCost: "0.02" });
    expect(cost(r)).toBe("0.02");
    expect(r.computedCost?.toString()).toBe("0.0125");
  });
});

describe("OpenTelemetry spans priced end to end", () => {
  it("prices a span whose input includes cache reads: 200×3 + 1000×0.3 + 300×15 = 0.0054", () => {
    const attrs = { "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.output_tokens": 300 };
    expect(cost(price("anthropic", "claude-sonnet-4-5", NOW, "otel", attrs))).toBe("0.0054");
  });
});
