/**
 * Normalizations + pricings per second on one core. Prints figures; asserts nothing.
 * Goal: ≥ 1,000,000 priced events/s (a price lookup must not scan the rate card).
 * Run: npm run bench -w packages/core
 */
import { calcPrice } from "@pydantic/genai-prices";
import { normalizeUsage } from "../src/index.js";
import { loadDefaultRateCard } from "../src/pricing/default-rate-card.js";

const N = Number(process.env.BENCH_EVENTS ?? 2_000_000);
const card = await loadDefaultRateCard();

const CALLS = [
  {
    api: "openai.chat",
    provider: "openai",
    model: "gpt-4o-2024-08-06",
    raw: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } },
  },
  {
    api: "openai.responses",
    provider: "openai",
    model: "o3",
    raw: { input_tokens: 5000, output_tokens: 900, output_tokens_details: { reasoning_tokens: 600 } },
  },
  {
    api: "anthropic.messages",
    provider: "anthropic",
    model: "claude-sonnet-4-5-20250929",
    raw: { input_tokens: 40, output_tokens: 350, cache_read_input_tokens: 12000, cache_creation_input_tokens: 800 },
  },
  {
    api: "gemini",
    provider: "google",
    model: "gemini-2.5-flash",
    raw: { promptTokenCount: 3000, candidatesTokenCount: 200, thoughtsTokenCount: 120 },
  },
  {
    api: "bedrock.converse",
    provider: "bedrock",
    model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    raw: { inputTokens: 900, outputTokens: 120, totalTokens: 1020 },
  },
  { api: "openai.embeddings", provider: "openai", model: "text-embedding-3-small", raw: { prompt_tokens: 800, total_tokens: 800 } },
] as const;
const T0 = Date.parse("2026-11-20T10:00:00Z");

function measure(label: string, n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i); // warm up
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < n; i++) if (fn(i)) sink++;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = n / secs;
  console.log(
    `${label.padEnd(44)} ${Math.round(rate).toLocaleString("en-US").padStart(12)} /s   (${n.toLocaleString("en-US")} in ${secs.toFixed(2)} s${sink === n ? "" : `, ${n - sink} falsy`})`,
  );
  return rate;
}

console.log(`costtrail core pricing bench — node ${process.version}, one core\n`);
const normalized = CALLS.map((c) => {
  const r = normalizeUsage(c.api, c.raw);
  if (!r.ok) throw new Error("fixture did not normalize");
  return r.value;
});
const norm = measure("normalize only", N, (i) => normalizeUsage(CALLS[i % 6]!.api, CALLS[i % 6]!.raw).ok);
const price = measure("price only (pre-normalized)", N, (i) => {
  const c = CALLS[i % 6]!;
  return card.price({ provider: c.provider, model: c.model, timestamp: T0 + i, usage: normalized[i % 6]! }).cost;
});
const both = measure("normalize + price", N, (i) => {
  const c = CALLS[i % 6]!;
  const u = normalizeUsage(c.api, c.raw);
  return u.ok && card.price({ provider: c.provider, model: c.model, timestamp: T0 + i, usage: u.value }).cost;
});
const withText = measure("normalize + price + cost as decimal text", N, (i) => {
  const c = CALLS[i % 6]!;
  const u = normalizeUsage(c.api, c.raw);
  return u.ok && card.price({ provider: c.provider, model: c.model, timestamp: T0 + i, usage: u.value }).cost?.toString();
});
const M = Math.max(20_000, Math.floor(N / 100));
const genai = measure("reference: genai-prices calcPrice (floats)", M, (i) => {
  const c = CALLS[i % 6]!;
  const u = normalized[i % 6]!.buckets;
  return calcPrice(
    {
      input_tokens: (u.input_tokens ?? 0) + (u.cache_read_tokens ?? 0),
      cache_read_tokens: u.cache_read_tokens,
      output_tokens: (u.output_tokens ?? 0) + (u.reasoning_tokens ?? 0),
    },
    c.model,
    { providerId: c.provider === "bedrock" ? "aws" : c.provider, timestamp: new Date(T0) },
  );
});

console.log("");
console.log(
  `goal ≥ 1,000,000 priced events/s: normalize + price = ${Math.round(both).toLocaleString("en-US")}/s (${(both / 1e6).toFixed(2)}× goal)`,
);
console.log(
  `ratios: price/normalize ${(price / norm).toFixed(2)}, with text/without ${(withText / both).toFixed(2)}, ours/genai-prices calcPrice ${(both / genai).toFixed(1)}×`,
);
const mem = process.memoryUsage();
console.log(`memory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
