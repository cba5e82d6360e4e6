import type { CallSink } from "./call-record.js";
import { type ClientFamily, type MeasureOptions, instrumentFetch } from "./instrumented-fetch.js";

export interface WrapOptions {
  /**
   * The provider to price with. Default: `anthropic` for Anthropic clients; for OpenAI
   * clients `azure` for AzureOpenAI, otherwise `openai`. Set it when an OpenAI client points
   * at another OpenAI-compatible provider (`openrouter`, `groq`, `together`…).
   */
  readonly provider?: string;
  /**
   * Ask OpenAI chat streams for their usage when the caller did not (default true). Turn it off
   * for an OpenAI-compatible provider that refuses `stream_options`; such streams are then
   * recorded with output estimated from their content events.
   */
  readonly askStreamUsage?: boolean;
}

/** The part of the official clients (openai ≥ 5, @anthropic-ai/sdk ≥ 0.50) that wrapping uses. */
interface StainlessClient {
  withOptions(options: { fetch: typeof fetch; apiVersion?: string; deployment?: string }): unknown;
  fetch?: typeof fetch;
  timeout?: number;
  /** AzureOpenAI's, which its constructor needs and withOptions does not carry over. */
  apiVersion?: string;
  deploymentName?: string;
  chat?: unknown;
  messages?: unknown;
  constructor: { name: string };
}

function isStainlessClient(v: unknown): v is StainlessClient {
  return typeof v === "object" && v !== null && typeof (v as StainlessClient).withOptions === "function";
}

function familyOf(client: StainlessClient): ClientFamily | undefined {
  if (client.chat !== undefined) return "openai";
  if (client.messages !== undefined) return "anthropic";
  return undefined;
}

/**
 * A copy of an official OpenAI or Anthropic client, of the same class and options, whose
 * requests are measured. The caller's own client is left as it was.
 */
export function wrapClient<T extends object>(client: T, sink: CallSink, options: WrapOptions = {}, guard?: MeasureOptions["guard"]): T {
  if (!isStainlessClient(client)) {
    throw new TypeError("costtrail.wrap: expected a client from the openai or @anthropic-ai/sdk package (it has no withOptions())");
  }
  const family = familyOf(client);
  if (!family) throw new TypeError(`costtrail.wrap: ${client.constructor.name} is neither an OpenAI nor an Anthropic client`);
  const provider =
    options.provider ?? (family === "anthropic" ? "anthropic" : client.constructor.name === "AzureOpenAI" ? "azure" : "openai");
  const original = client.fetch ?? fetch;
  const measured = instrumentFetch(original, family, provider, sink, {
    clientTimeoutMs: typeof client.timeout === "number" ? client.timeout : undefined,
    askStreamUsage: options.askStreamUsage ?? true,
    ...(guard && { guard }),
  });
  return client.withOptions({
    fetch: measured,
    ...(client.apiVersion && { apiVersion: client.apiVersion }),
    ...(client.deploymentName && { deployment: client.deploymentName }),
  }) as T;
}
