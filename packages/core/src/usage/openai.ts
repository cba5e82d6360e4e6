import type { UsageReader } from "./usage-reader.js";
import type { NormalizedUsage } from "./buckets.js";

/**
 * Chat Completions: `prompt_tokens` already includes `prompt_tokens_details.cached_tokens`
 * and `.audio_tokens`; `completion_tokens` includes `completion_tokens_details.reasoning_tokens`
 * and `.audio_tokens` (https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage).
 * So the details are subtracted out to keep buckets disjoint. Newer responses add
 * `prompt_tokens_details.cache_write_tokens` (explicit prompt caching), also inside `prompt_tokens`.
 */
export function normalizeOpenAIChat(r: UsageReader): NormalizedUsage {
  const prompt = r.need("prompt_tokens");
  const completion = r.need("completion_tokens");
  const cached = r.get("prompt_tokens_details", "cached_tokens");
  const cacheWrite = r.get("prompt_tokens_details", "cache_write_tokens");
  const audioIn = r.get("prompt_tokens_details", "audio_tokens");
  const reasoning = r.get("completion_tokens_details", "reasoning_tokens");
  const audioOut = r.get("completion_tokens_details", "audio_tokens");
  r.within(["prompt_tokens_details"], cached + cacheWrite + audioIn, ["prompt_tokens"], prompt);
  r.within(["completion_tokens_details"], reasoning + audioOut, ["completion_tokens"], completion);
  const reportedCost = r.money("cost");
  return {
    ...(reportedCost !== undefined && { reportedCost }),
    buckets: nonZero({
      input_tokens: prompt - cached - cacheWrite - audioIn,
      cache_read_tokens: cached,
      cache_write_5m_tokens: cacheWrite,
      input_audio_tokens: audioIn,
      output_tokens: completion - reasoning - audioOut,
      reasoning_tokens: reasoning,
      output_audio_tokens: audioOut,
    }),
    units: {},
  };
}

/**
 * Responses API: `input_tokens` includes `input_tokens_details.cached_tokens`, and
 * `output_tokens` includes `output_tokens_details.reasoning_tokens`
 * (https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage).
 */
export function normalizeOpenAIResponses(r: UsageReader): NormalizedUsage {
  const input = r.need("input_tokens");
  const output = r.need("output_tokens");
  const cached = r.get("input_tokens_details", "cached_tokens");
  const cacheWrite = r.get("input_tokens_details", "cache_write_tokens");
  const reasoning = r.get("output_tokens_details", "reasoning_tokens");
  r.within(["input_tokens_details"], cached + cacheWrite, ["input_tokens"], input);
  r.within(["output_tokens_details", "reasoning_tokens"], reasoning, ["output_tokens"], output);
  return {
    buckets: nonZero({
      input_tokens: input - cached - cacheWrite,
      cache_read_tokens: cached,
      cache_write_5m_tokens: cacheWrite,
      output_tokens: output - reasoning,
      reasoning_tokens: reasoning,
    }),
    units: {},
  };
}

/** Embeddings bill input only: `usage.prompt_tokens` (equal to `total_tokens`). */
export function normalizeOpenAIEmbeddings(r: UsageReader): NormalizedUsage {
  const prompt = r.has("prompt_tokens") ? r.need("prompt_tokens") : r.need("total_tokens");
  return { buckets: nonZero({ input_tokens: prompt }), units: {} };
}

export function nonZero<T extends Record<string, number>>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k in o) if (o[k] !== 0) out[k] = o[k];
  return out;
}
