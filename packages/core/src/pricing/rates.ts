import type { TokenBucket, UnitKind } from "../usage/buckets.js";

/** A rate as published: a decimal string, or a base with higher tiers once total input passes `start`. */
export type RateValue = string | { base: string; tiers: ReadonlyArray<{ start: number; price: string }> };

/** Rate keys, named as price lists name them: `_mtok` is USD per million tokens, `_kcount` per thousand. */
export const TOKEN_RATE_KEYS = [
  "input_mtok",
  "cache_read_mtok",
  "cache_write_mtok",
  "cache_write_1h_mtok",
  "output_mtok",
  "output_reasoning_mtok",
  "input_audio_mtok",
  "cache_audio_read_mtok",
  "output_audio_mtok",
  "input_image_mtok",
  "output_image_mtok",
] as const;

export const UNIT_RATE_KEYS = [
  "requests_kcount",
  "web_searches_kcount",
  "file_searches_kcount",
  "code_interpreter_sessions_kcount",
  "images_count",
  "seconds_count",
  "tool_calls_kcount",
  "pages_kcount",
] as const;

export type TokenRateKey = (typeof TOKEN_RATE_KEYS)[number];
export type UnitRateKey = (typeof UNIT_RATE_KEYS)[number];
export type RateKey = TokenRateKey | UnitRateKey;
export const RATE_KEYS: readonly RateKey[] = [...TOKEN_RATE_KEYS, ...UNIT_RATE_KEYS];

export type Rates = { [K in RateKey]?: RateValue };

/**
 * Which rate prices each bucket: the first key present wins. A provider that does not
 * discount cache reads, say, publishes no cache-read rate and its reads cost plain input.
 */
export const BUCKET_RATE_CHAIN: Record<TokenBucket, readonly TokenRateKey[]> = {
  input_tokens: ["input_mtok"],
  cache_read_tokens: ["cache_read_mtok", "input_mtok"],
  cache_write_5m_tokens: ["cache_write_mtok", "input_mtok"],
  cache_write_1h_tokens: ["cache_write_1h_mtok", "cache_write_mtok", "input_mtok"],
  output_tokens: ["output_mtok"],
  reasoning_tokens: ["output_reasoning_mtok", "output_mtok"],
  input_audio_tokens: ["input_audio_mtok", "input_mtok"],
  cache_read_audio_tokens: ["cache_audio_read_mtok", "input_audio_mtok", "cache_read_mtok", "input_mtok"],
  output_audio_tokens: ["output_audio_mtok", "output_mtok"],
  input_image_tokens: ["input_image_mtok", "input_mtok"],
  output_image_tokens: ["output_image_mtok", "output_mtok"],
};

export const UNIT_RATE: Record<UnitKind, { key: UnitRateKey; per: number }> = {
  requests: { key: "requests_kcount", per: 1000 },
  web_search_calls: { key: "web_searches_kcount", per: 1000 },
  file_search_calls: { key: "file_searches_kcount", per: 1000 },
  code_interpreter_sessions: { key: "code_interpreter_sessions_kcount", per: 1000 },
  images: { key: "images_count", per: 1 },
  seconds: { key: "seconds_count", per: 1 },
  tool_calls: { key: "tool_calls_kcount", per: 1000 },
  pages: { key: "pages_kcount", per: 1000 },
};
