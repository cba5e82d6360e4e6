import type { NormalizedUsage } from "./buckets.js";
import { nonZero } from "./openai.js";
import type { UsageReader } from "./usage-reader.js";

function modality(r: UsageReader, key: string, name: string): number {
  let total = 0;
  r.list(key).forEach((d, i) => {
    if (d.modality === name) total += r.countAt(d.tokenCount ?? 0, [key, i, "tokenCount"]);
  });
  return total;
}

/**
 * Gemini `usageMetadata`: `promptTokenCount` includes `cachedContentTokenCount`;
 * `candidatesTokenCount` excludes `thoughtsTokenCount`, which is billed as output;
 * `toolUsePromptTokenCount` is extra input read from tool results
 * (https://ai.google.dev/api/generate-content#UsageMetadata).
 */
export function normalizeGemini(r: UsageReader): NormalizedUsage {
  const prompt = r.get("promptTokenCount");
  const cached = r.get("cachedContentTokenCount");
  const candidates = r.get("candidatesTokenCount");
  const thoughts = r.get("thoughtsTokenCount");
  const toolPrompt = r.get("toolUsePromptTokenCount");
  const audioIn = modality(r, "promptTokensDetails", "AUDIO") + modality(r, "toolUsePromptTokensDetails", "AUDIO");
  const audioCached = modality(r, "cacheTokensDetails", "AUDIO");
  const audioOut = modality(r, "candidatesTokensDetails", "AUDIO");
  r.within(["cachedContentTokenCount"], cached, ["promptTokenCount"], prompt);
  r.within(["candidatesTokensDetails"], audioOut, ["candidatesTokenCount"], candidates);
  r.within(["cacheTokensDetails"], audioCached, ["cachedContentTokenCount"], cached);
  const audioUncached = Math.max(0, audioIn - audioCached);
  return {
    buckets: nonZero({
      input_tokens: Math.max(0, prompt + toolPrompt - cached - audioUncached),
      cache_read_tokens: cached - audioCached,
      cache_read_audio_tokens: audioCached,
      input_audio_tokens: audioUncached,
      output_tokens: candidates - audioOut,
      reasoning_tokens: thoughts,
      output_audio_tokens: audioOut,
    }),
    units: {},
  };
}
