import { createHash } from "node:crypto";
import type { Api, UsageBuckets } from "@costtrail/core";
import { currentScope } from "../context/attribution.js";
import { isRecord, stringOf } from "@costtrail/core";
import type { CallRecord, CallSink } from "./call-record.js";
import { observeStream } from "./observed-stream.js";

/** The parts of an AI SDK language model the middleware reads. */
export interface AiSdkModel {
  readonly provider: string;
  readonly modelId: string;
}

/**
 * A language model middleware for the Vercel AI SDK (`wrapLanguageModel`), for ai 6
 * (specification v3, the default) and ai 7 (pass `specificationVersion: "v4"`). Both versions
 * hand the middleware the same usage shape.
 */
export interface AiSdkMiddleware<V extends string> {
  readonly specificationVersion: V;
  wrapGenerate<R>(options: { doGenerate: () => PromiseLike<R>; params: unknown; model: AiSdkModel }): Promise<R>;
  wrapStream<S extends { stream: ReadableStream<unknown> }>(options: {
    doStream: () => PromiseLike<S>;
    params: unknown;
    model: AiSdkModel;
  }): Promise<S>;
}

/**
 * The AI SDK names a model's provider `<provider>.<api>`; where the API is one whose usage
 * object core reads, the provider's raw usage goes to the server as it came.
 */
const RAW_APIS: Record<string, { provider: string; api: Api }> = {
  "openai.chat": { provider: "openai", api: "openai.chat" },
  "openai.responses": { provider: "openai", api: "openai.responses" },
  "azure.chat": { provider: "azure", api: "openai.chat" },
  "azure.responses": { provider: "azure", api: "openai.responses" },
  "anthropic.messages": { provider: "anthropic", api: "anthropic.messages" },
};

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * The AI SDK's usage in buckets: `inputTokens.noCache`/`cacheRead`/`cacheWrite` and
 * `outputTokens.text`/`reasoning` are already disjoint; older shapes give only totals.
 */
export function bucketsFromAiSdkUsage(usage: unknown): UsageBuckets {
  if (!isRecord(usage)) return {};
  const out: Record<string, number> = {};
  const put = (k: string, v: number | undefined) => {
    if (v !== undefined && v > 0) out[k] = v;
  };
  const input = usage.inputTokens;
  const output = usage.outputTokens;
  if (isRecord(input)) {
    const cacheRead = count(input.cacheRead) ?? 0;
    const cacheWrite = count(input.cacheWrite) ?? 0;
    put("input_tokens", count(input.noCache) ?? Math.max(0, (count(input.total) ?? 0) - cacheRead - cacheWrite));
    put("cache_read_tokens", cacheRead);
    put("cache_write_5m_tokens", cacheWrite);
  } else put("input_tokens", count(input));
  if (isRecord(output)) {
    const reasoning = count(output.reasoning) ?? 0;
    put("output_tokens", count(output.text) ?? Math.max(0, (count(output.total) ?? 0) - reasoning));
    put("reasoning_tokens", reasoning);
  } else put("output_tokens", count(output));
  return out;
}

function usageFields(model: AiSdkModel, usage: unknown): Pick<CallRecord, "provider" | "api" | "reading" | "usage"> {
  const known = RAW_APIS[model.provider];
  const raw = isRecord(usage) && isRecord(usage.raw) ? usage.raw : undefined;
  if (known && raw) return { provider: known.provider, api: known.api, reading: { rawUsage: raw } };
  return {
    provider: known?.provider ?? (model.provider.split(".")[0] || model.provider),
    reading: {},
    usage: bucketsFromAiSdkUsage(usage),
  };
}

export function aiSdkMiddleware<V extends string>(sink: CallSink, specificationVersion: V): AiSdkMiddleware<V> {
  const attempts = new RetryCounter();

  /** One attempt at the model: an error is recorded and thrown on; a result comes back with its timing. */
  async function callOnce<T>(model: AiSdkModel, params: unknown, streamed: boolean, run: () => PromiseLike<T>) {
    const { attempt, key } = attempts.begin(model, params);
    const scope = currentScope();
    const base = {
      operation: "chat" as const,
      requestedModel: model.modelId,
      attempt,
      startedAt: Date.now(),
      streamed,
      scope,
      step: scope?.run?.step(attempt),
    };
    const t0 = performance.now();
    try {
      const result = await run();
      attempts.succeeded(key);
      return { result, base, t0 };
    } catch (err) {
      attempts.failed(model, params, key, attempt);
      sink({ ...base, ...usageFields(model, undefined), status: "error", errorType: errorTypeOf(err), latencyMs: performance.now() - t0 });
      throw err;
    }
  }
  return {
    specificationVersion,
    async wrapGenerate({ doGenerate, params, model }) {
      const { result, base, t0 } = await callOnce(model, params, false, doGenerate);
      const r = result as { usage?: unknown; response?: { modelId?: unknown } };
      const fields = usageFields(model, r.usage);
      sink({
        ...base,
        ...fields,
        reading: { ...fields.reading, ...(stringOf(r.response?.modelId) && { model: stringOf(r.response?.modelId) }) },
        status: "ok",
        latencyMs: performance.now() - t0,
      });
      return result;
    },

    async wrapStream<S extends { stream: ReadableStream<unknown> }>({
      doStream,
      params,
      model,
    }: {
      doStream: () => PromiseLike<S>;
      params: unknown;
      model: AiSdkModel;
    }): Promise<S> {
      const { result, base, t0 } = await callOnce(model, params, true, doStream);
      if (!result || !(result.stream instanceof ReadableStream)) return result;
      let usage: unknown;
      let modelId: string | undefined;
      let ttftMs: number | undefined;
      let deltas = 0;
      let streamError: string | undefined;
      const stream = observeStream(
        result.stream,
        (part) => {
          if (!isRecord(part)) return;
          if (part.type === "response-metadata") modelId = stringOf(part.modelId) ?? modelId;
          else if (part.type === "text-delta" || part.type === "reasoning-delta" || part.type === "tool-input-delta") {
            ttftMs ??= performance.now() - t0;
            deltas++;
          } else if (part.type === "finish") usage = part.usage;
          else if (part.type === "error") streamError = errorTypeOf(part.error);
        },
        (end) => {
          const fields = usageFields(model, usage);
          const noUsage = usage === undefined;
          sink({
            ...base,
            ...fields,
            reading: { ...fields.reading, ...(modelId && { model: modelId }) },
            ...(noUsage && deltas > 0 && { usage: undefined, estimatedOutputTokens: deltas }),
            status: end === "aborted" ? "aborted" : end === "failed" || streamError ? "error" : "ok",
            ...((end !== "done" || streamError) && { errorType: end === "aborted" ? "aborted" : (streamError ?? "stream_interrupted") }),
            latencyMs: performance.now() - t0,
            ...(ttftMs !== undefined && { ttftMs }),
          });
        },
      );
      return { ...result, stream } as typeof result;
    },
  };
}

/** How long after a failed attempt the same request still counts as its retry. */
const RETRY_WINDOW_MS = 120_000;

/**
 * The AI SDK retries a failed call by calling the model again with equal parameters (a new
 * object each time), and says nothing of attempts. A call with the same model and parameters
 * as one that failed within the window is taken as its next attempt. Parameters are only
 * fingerprinted while some attempt has failed, so the common path costs nothing.
 */
class RetryCounter {
  private readonly failures = new Map<string, { attempt: number; at: number }>();

  private static key(model: AiSdkModel, params: unknown): string {
    let text: string;
    try {
      text = JSON.stringify(params) ?? "";
    } catch {
      text = String(params);
    }
    return createHash("sha1").update(`${model.provider}\n${model.modelId}\n${text}`).digest("base64");
  }

  begin(model: AiSdkModel, params: unknown): { attempt: number; key: string | undefined } {
    if (this.failures.size === 0) return { attempt: 1, key: undefined };
    const key = RetryCounter.key(model, params);
    const prior = this.failures.get(key);
    const attempt = prior && Date.now() - prior.at < RETRY_WINDOW_MS ? prior.attempt + 1 : 1;
    return { attempt, key };
  }

  failed(model: AiSdkModel, params: unknown, key: string | undefined, attempt: number): void {
    const now = Date.now();
    for (const [k, v] of this.failures) if (now - v.at >= RETRY_WINDOW_MS) this.failures.delete(k);
    this.failures.set(key ?? RetryCounter.key(model, params), { attempt, at: now });
  }

  succeeded(key: string | undefined): void {
    if (key !== undefined) this.failures.delete(key);
  }
}

/** An API error's HTTP status and name, as far as the error says. */
export function errorTypeOf(err: unknown): string {
  if (!isRecord(err) && !(err instanceof Error)) return "error";
  const e = err as { status?: unknown; statusCode?: unknown; name?: unknown };
  const status = count(e.status) ?? count(e.statusCode);
  const name = stringOf(e.name) ?? "error";
  return (status !== undefined ? `${status} ${name}` : name).slice(0, 128);
}
