import type { Api, CallReader, RateCard } from "@costtrail/core";
import type { GatewayProvider } from "../config/gateway-config.js";
import type { HeaderAttribution } from "./attribution-headers.js";
import { type CountMethod, countInputTokens } from "./token-estimate.js";

/** What a request may cost, before it is sent. */
export interface CallEstimate {
  readonly inputTokens: number;
  /** The most output the request allows: its max_tokens, or the gateway's default. */
  readonly maxOutputTokens: number;
  /** The estimate priced at the rate card in force, as a decimal string; null for an unpriced model. */
  readonly costUsd: string | null;
  /**
   * How the input was counted: OpenAI's tokenizer, a calibrated count for Claude, or four
   * characters a token while the tokenizers load or for other models.
   */
  readonly method: CountMethod;
}

export interface CheckInput {
  /** The id the call's usage event will carry; a budget's reservation is settled by it. */
  readonly eventId: string;
  /** The key the caller authenticated with: an ingest key's or a virtual key's id. */
  readonly apiKeyId: string;
  /** 1 for a first attempt (from the client's retry-count header). */
  readonly attempt: number;
  readonly provider: GatewayProvider;
  readonly api: Api;
  readonly model: string | undefined;
  readonly attribution: HeaderAttribution;
  readonly estimate: CallEstimate;
}

/** A streamed answer may run to this many output tokens before a budget cuts it off. */
export interface OutputLimit {
  readonly outputTokens: number;
  readonly budget: string;
}

export type CheckDecision =
  | { readonly action: "allow"; readonly limit?: OutputLimit }
  /** Answered 429 in the provider's shape, naming the budget; nothing reaches the upstream. */
  | { readonly action: "refuse"; readonly budget: string; readonly message: string }
  /** The request goes upstream with this model instead (a soft cap). */
  | { readonly action: "rewrite"; readonly model: string; readonly limit?: OutputLimit };

/**
 * A check on each request before it is forwarded, on the request's path: budgets answer from
 * their counters (in memory, or one Redis round trip), never from a ledger query.
 */
export type PreForwardCheck = (input: CheckInput) => CheckDecision | Promise<CheckDecision>;

/**
 * What a request may cost: its input counted as exactly as the model allows, its output at
 * the most it allows. Deliberately on the high side (the maximum output is rarely reached), so
 * that a budget check refuses before the money is spent rather than after.
 */
export function estimateCall(
  reader: CallReader,
  body: Record<string, unknown>,
  card: RateCard,
  provider: GatewayProvider,
  defaultMaxOutput: number,
): CallEstimate {
  const { tokens: inputTokens, method } = countInputTokens(provider, reader.api, body);
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
  return { inputTokens, maxOutputTokens, costUsd: priced.status === "priced" ? priced.cost.toString() : null, method };
}
