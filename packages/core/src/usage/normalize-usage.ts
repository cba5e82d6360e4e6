import { type IssuePath, type Result, issue } from "../errors.js";
import { APIS, type Api } from "../event/usage-event.js";
import { isPlainObject } from "../event/fields.js";
import { accumulateAnthropicStreamUsage, normalizeAnthropicMessages } from "./anthropic.js";
import { normalizeBedrockConverse } from "./bedrock.js";
import type { NormalizedUsage } from "./buckets.js";
import { normalizeGemini } from "./gemini.js";
import { normalizeOpenAIChat, normalizeOpenAIEmbeddings, normalizeOpenAIResponses } from "./openai.js";
import { normalizeOtel } from "./otel.js";
import { UsageReader } from "./usage-reader.js";

const NORMALIZERS: Record<Api, (r: UsageReader) => NormalizedUsage> = {
  "openai.chat": normalizeOpenAIChat,
  "openai.responses": normalizeOpenAIResponses,
  "openai.embeddings": normalizeOpenAIEmbeddings,
  "anthropic.messages": normalizeAnthropicMessages,
  gemini: normalizeGemini,
  "bedrock.converse": normalizeBedrockConverse,
  otel: normalizeOtel,
};

/** Where each API keeps its usage object when handed a whole response body. */
const ENVELOPE: Record<Api, { key: string; marker: string }> = {
  "openai.chat": { key: "usage", marker: "prompt_tokens" },
  "openai.responses": { key: "usage", marker: "input_tokens" },
  "openai.embeddings": { key: "usage", marker: "prompt_tokens" },
  "anthropic.messages": { key: "usage", marker: "input_tokens" },
  gemini: { key: "usageMetadata", marker: "promptTokenCount" },
  "bedrock.converse": { key: "usage", marker: "inputTokens" },
  otel: { key: "attributes", marker: "gen_ai.usage.input_tokens" },
};

export function isApi(value: string): value is Api {
  return (APIS as readonly string[]).includes(value);
}

/**
 * Turns a provider's usage object into disjoint buckets. Accepts the usage object itself,
 * or the whole response body (or, for Anthropic, the list of stream events) that holds it.
 * Returns field-level issues for malformed input; never throws for it.
 */
export function normalizeUsage(api: string, raw: unknown, path: IssuePath = ["raw_usage"]): Result<NormalizedUsage> {
  if (!isApi(api)) {
    return { ok: false, issues: [issue("invalid_value", ["api"], `must be one of ${APIS.join(", ")}, got ${JSON.stringify(api)}`)] };
  }
  let root = raw;
  let base = path;
  if (api === "anthropic.messages" && Array.isArray(raw)) {
    const merged = accumulateAnthropicStreamUsage(raw);
    if (merged === null) {
      return { ok: false, issues: [issue("required", path, "no message_start or message_delta event with usage in the stream")] };
    }
    root = merged;
  }
  if (!isPlainObject(root)) {
    return {
      ok: false,
      issues: [
        issue("invalid_type", path, `must be an object, got ${root === null ? "null" : Array.isArray(root) ? "an array" : typeof root}`),
      ],
    };
  }
  const env = ENVELOPE[api];
  if (!(env.marker in root) && isPlainObject(root[env.key])) {
    root = root[env.key];
    base = [...path, env.key];
  }
  const reader = new UsageReader(root as Record<string, unknown>, base);
  const usage = NORMALIZERS[api](reader);
  if (reader.issues.length > 0) return { ok: false, issues: reader.issues };
  return { ok: true, value: usage };
}
