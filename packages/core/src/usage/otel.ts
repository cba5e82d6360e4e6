import type { NormalizedUsage } from "./buckets.js";
import { nonZero } from "./openai.js";
import type { UsageReader } from "./usage-reader.js";

export const OTEL_USAGE_ATTRIBUTES = {
  input: "gen_ai.usage.input_tokens",
  output: "gen_ai.usage.output_tokens",
  cacheRead: "gen_ai.usage.cache_read.input_tokens",
  cacheCreation: "gen_ai.usage.cache_creation.input_tokens",
  reasoning: "gen_ai.usage.reasoning.output_tokens",
  legacyInput: "gen_ai.usage.prompt_tokens",
  legacyOutput: "gen_ai.usage.completion_tokens",
} as const;

/**
 * OpenTelemetry GenAI spans: the semantic conventions say `gen_ai.usage.input_tokens`
 * SHOULD include cached tokens (reads and creation), so they are subtracted out here
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/). Attributes arrive
 * flat, keyed by their dotted names; OTLP JSON may carry the ints as strings.
 */
export function normalizeOtel(r: UsageReader): NormalizedUsage {
  const a = OTEL_USAGE_ATTRIBUTES;
  const input = r.has(a.input) ? r.need(a.input) : r.has(a.legacyInput) ? r.get(a.legacyInput) : r.need(a.input);
  const output = r.has(a.output) ? r.need(a.output) : r.has(a.legacyOutput) ? r.get(a.legacyOutput) : r.need(a.output);
  const cacheRead = r.get(a.cacheRead);
  const cacheCreation = r.get(a.cacheCreation);
  const reasoning = r.get(a.reasoning);
  r.within([a.cacheRead], cacheRead + cacheCreation, [a.input], input);
  r.within([a.reasoning], reasoning, [a.output], output);
  return {
    buckets: nonZero({
      input_tokens: input - cacheRead - cacheCreation,
      cache_read_tokens: cacheRead,
      cache_write_5m_tokens: cacheCreation,
      output_tokens: output - reasoning,
      reasoning_tokens: reasoning,
    }),
    units: {},
  };
}
