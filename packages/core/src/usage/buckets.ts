/**
 * Disjoint usage buckets: cost = Σ bucket × its rate, and no token sits in two buckets.
 * `input_tokens` is uncached text input; cache reads and writes are their own buckets;
 * `output_tokens` is visible output, with reasoning and audio output split out.
 */
export const TOKEN_BUCKETS = [
  "input_tokens",
  "cache_read_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "output_tokens",
  "reasoning_tokens",
  "input_audio_tokens",
  "cache_read_audio_tokens",
  "output_audio_tokens",
  "input_image_tokens",
  "output_image_tokens",
] as const;

export type TokenBucket = (typeof TOKEN_BUCKETS)[number];

/** Non-token billables. `seconds` may be fractional; the rest are counts. */
export const UNIT_KINDS = [
  "requests",
  "web_search_calls",
  "file_search_calls",
  "code_interpreter_sessions",
  "images",
  "seconds",
  "tool_calls",
  "pages",
] as const;

export type UnitKind = (typeof UNIT_KINDS)[number];

export type UsageBuckets = { [K in TokenBucket]?: number };
export type Units = { [K in UnitKind]?: number };

/** What a normalizer yields: buckets, non-token units, and the provider's object kept verbatim. */
export interface NormalizedUsage {
  readonly buckets: UsageBuckets;
  readonly units: Units;
  /** A cost the provider reported with the usage (exact decimal text), e.g. OpenRouter's `usage.cost`. */
  readonly reportedCost?: string;
}

/** Tokens that count as input for long-context tier thresholds (all input the model read). */
export function totalInputTokens(b: UsageBuckets): number {
  return (
    (b.input_tokens ?? 0) +
    (b.cache_read_tokens ?? 0) +
    (b.cache_write_5m_tokens ?? 0) +
    (b.cache_write_1h_tokens ?? 0) +
    (b.input_audio_tokens ?? 0) +
    (b.cache_read_audio_tokens ?? 0) +
    (b.input_image_tokens ?? 0)
  );
}

export function totalTokens(b: UsageBuckets): number {
  let t = 0;
  for (const k of TOKEN_BUCKETS) t += b[k] ?? 0;
  return t;
}
