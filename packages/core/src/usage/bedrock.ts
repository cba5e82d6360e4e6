import type { NormalizedUsage } from "./buckets.js";
import { nonZero } from "./openai.js";
import type { UsageReader } from "./usage-reader.js";

/**
 * Bedrock Converse `usage`: like Anthropic's API, `inputTokens` excludes
 * `cacheReadInputTokens` and `cacheWriteInputTokens`, and `totalTokens` is the sum of all four
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html).
 * `cacheDetails` splits writes by TTL where the model supports a one-hour cache.
 */
export function normalizeBedrockConverse(r: UsageReader): NormalizedUsage {
  const input = r.need("inputTokens");
  const output = r.need("outputTokens");
  const cacheRead = r.get("cacheReadInputTokens");
  const cacheWrite = r.get("cacheWriteInputTokens");
  let write1h = 0;
  r.list("cacheDetails").forEach((d, i) => {
    if (d.ttl === "1h") write1h += r.countAt(d.inputTokens ?? 0, ["cacheDetails", i, "inputTokens"]);
  });
  r.within(["cacheDetails"], write1h, ["cacheWriteInputTokens"], cacheWrite);
  return {
    buckets: nonZero({
      input_tokens: input,
      cache_read_tokens: cacheRead,
      cache_write_5m_tokens: cacheWrite - write1h,
      cache_write_1h_tokens: write1h,
      output_tokens: output,
    }),
    units: {},
  };
}
