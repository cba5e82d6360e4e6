import type { Api, CallReader, RateCard } from "@costtrail/core";
import type { GatewayProvider } from "../config/gateway-config.js";
import type { HeaderAttribution } from "./attribution-headers.js";

/** What a request may cost, before it is sent. */
export interface CallEstimate {
  readonly inputTokens: number;
  /** The most output the request allows: its max_tokens, or the gateway's default. */
  readonly maxOutputTokens: number;
  /** The estimate priced at the rate card in force, as a decimal string; null for an unpriced model. */
  readonly costUsd: string | null;
  /** How the input was counted. */
  readonly method: "characters";
}

export interface CheckInput {
  readonly provider: GatewayProvider;
  readonly api: Api;
  readonly model: string | undefined;
  readonly attribution: HeaderAttribution;
  readonly estimate: CallEstimate;
}

export type CheckDecision =
  | { readonly action: "allow" }
  /** Answered 429 in the provider's shape, naming the budget; nothing reaches the upstream. */
  | { readonly action: "refuse"; readonly budget: string; readonly message: string }
  /** The request goes upstream with this model instead (a soft cap). */
  | { readonly action: "rewrite"; readonly model: string };

/**
 * A check on each request before it is forwarded. It runs in memory on the request's path:
 * it must not wait on the network (budgets keep their counters locally).
 */
export type PreForwardCheck = (input: CheckInput) => CheckDecision;

/** Every string in a request's prompt, wherever the API keeps it. */
function promptCharacters(value: unknown, depth = 0): number {
  if (depth > 20) return 0;
  if (typeof value === "string") return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + promptCharacters(v, depth + 1), 0);
  if (value && typeof value === "object") {
    let n = 0;
    for (const [k, v] of Object.entries(value)) {
      // Images and audio are priced by the provider from their size, not their base64 text.
      if (k === "image_url" || k === "input_audio" || k === "source" || k === "data") continue;
      n += promptCharacters(v, depth + 1);
    }
    return n;
  }
  return 0;
}

/** English prose runs about four characters a token with OpenAI's and Anthropic's tokenizers. */
const CHARACTERS_PER_TOKEN = 4;

/**
 * A rough estimate of a request's cost: input from the characters of its prompt, output at its
 * maximum. Deliberately on the high side for output (the maximum is rarely reached).
 */
export function estimateCall(
  reader: CallReader,
  body: Record<string, unknown>,
  card: RateCard,
  provider: GatewayProvider,
  defaultMaxOutput: number,
): CallEstimate {
  const prompt = body.messages ?? body.input ?? body.prompt;
  const system = body.system ?? body.instructions;
  const inputTokens = Math.ceil(
    (promptCharacters(prompt) + promptCharacters(system) + promptCharacters(body.tools)) / CHARACTERS_PER_TOKEN,
  );
  const declared = [body.max_tokens, body.max_completion_tokens, body.max_output_tokens].find(
    (v): v is number => typeof v === "number" && Number.isInteger(v) && v > 0,
  );
  const maxOutputTokens = reader.operation === "embedding" ? 0 : (declared ?? defaultMaxOutput);
  const model = typeof body.model === "string" ? body.model : "";
  const priced = card.price({
    provider,
    model,
    timestamp: Date.now(),
    usage: { buckets: { input_tokens: inputTokens, output_tokens: maxOutputTokens }, units: {} },
  });
  return { inputTokens, maxOutputTokens, costUsd: priced.status === "priced" ? priced.cost.toString() : null, method: "characters" };
}
