import {
  type CallReader,
  type EventStatus,
  type RequestPlan,
  type StreamEnd,
  type StreamReader,
  anthropicMessagesReader,
  isRecord,
  openaiChatReader,
  openaiEmbeddingsReader,
  openaiResponsesReader,
  parseJson,
  providerErrorType,
  streamOutcome,
} from "@costtrail/core";
import { type CallScope, currentScope } from "../context/attribution.js";
import type { GuardDecision } from "../guard/budget-guard.js";
import { REFUSAL_TYPES, refusalResponse } from "../guard/refusal.js";
import { newEventId } from "../ids.js";
import type { CallRecord, CallSink } from "./call-record.js";
import { isAbortError, relaySse } from "./sse-relay.js";

export type ClientFamily = "openai" | "anthropic";

/** The API a request goes to, by the end of its path; other paths pass through unrecorded. */
function adapterFor(family: ClientFamily, pathname: string): CallReader | undefined {
  const path = pathname.replace(/\/+$/, "");
  if (family === "anthropic") return path.endsWith("/messages") ? anthropicMessagesReader : undefined;
  if (path.endsWith("/chat/completions")) return openaiChatReader;
  if (path.endsWith("/responses")) return openaiResponsesReader;
  if (path.endsWith("/embeddings")) return openaiEmbeddingsReader;
  return undefined;
}

interface Prepared {
  readonly adapter: CallReader;
  readonly plan: RequestPlan;
  readonly init: RequestInit;
  readonly attempt: number;
  readonly timeoutMs: number | undefined;
  readonly scope: CallScope | undefined;
  readonly step: number | undefined;
}

/** A call the guard is asked about before it is sent. */
export interface GuardedCall {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly operation: CallReader["operation"];
  readonly body: Record<string, unknown>;
  /** The request body's length: the input estimate when nothing better is known. */
  readonly bodyChars: number;
  readonly attempt: number;
  readonly scope: CallScope | undefined;
}

export interface MeasureOptions {
  /** The client's own timeout, for requests without a per-request one. */
  readonly clientTimeoutMs: number | undefined;
  readonly askStreamUsage: boolean;
  /** The budget check before each call, when the SDK's guard is on. */
  readonly guard?: (call: GuardedCall) => Promise<GuardDecision>;
}

function refusalType(d: Extract<GuardDecision, { action: "refuse" }>): string {
  if (d.reason === "agent_run_ceiling") return REFUSAL_TYPES.run;
  return d.reason === "guard_unavailable" ? REFUSAL_TYPES.unavailable : REFUSAL_TYPES.budget;
}

function prepare(family: ClientFamily, input: unknown, init: RequestInit | undefined, options: MeasureOptions): Prepared | undefined {
  if (!init || (init.method ?? "GET").toUpperCase() !== "POST" || typeof init.body !== "string") return undefined;
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : undefined;
  if (href === undefined) return undefined;
  const adapter = adapterFor(family, new URL(href).pathname);
  if (!adapter) return undefined;
  const body = parseJson(init.body);
  if (!isRecord(body)) return undefined;
  const asked = adapter.plan(body);
  const plan = asked.usageInjected && !options.askStreamUsage ? { ...asked, body: undefined, usageInjected: false } : asked;
  const headers = new Headers(init.headers);
  const retries = Number(headers.get("x-stainless-retry-count") ?? "0");
  // Sent only for a per-request timeout, in whole seconds ("0" for less than one); otherwise the
  // client's own timeout applies.
  const timeoutHeader = headers.get("x-stainless-timeout");
  const timeoutSeconds = timeoutHeader === null || timeoutHeader.trim() === "" ? Number.NaN : Number(timeoutHeader);
  const scope = currentScope();
  const attempt = Number.isInteger(retries) && retries >= 0 ? retries + 1 : 1;
  return {
    adapter,
    plan,
    init: plan.body === undefined ? init : { ...init, body: plan.body },
    attempt,
    timeoutMs: Number.isFinite(timeoutSeconds) && timeoutSeconds >= 0 ? timeoutSeconds * 1000 : options.clientTimeoutMs,
    scope,
    step: scope?.run?.step(attempt),
  };
}

/**
 * Wraps a client's fetch so that every attempt at a priced API becomes a call record, without
 * changing what the client sends (but for asking for stream usage) or receives. Anything that
 * goes wrong in the measuring falls back to the plain request: telemetry never breaks a call.
 */
export function instrumentFetch(
  original: typeof fetch,
  family: ClientFamily,
  provider: string,
  sink: CallSink,
  options: MeasureOptions,
): typeof fetch {
  const emit = (record: CallRecord) => {
    try {
      sink(record);
    } catch {
      // The sink only queues; a failure there is the SDK's, never the app's.
    }
  };

  return async function costtrailFetch(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
    let prepared: Prepared | undefined;
    try {
      prepared = prepare(family, input, init, options);
    } catch {
      prepared = undefined;
    }
    if (!prepared) return original.call(undefined, input, init);
    const p = prepared;
    const startedAt = Date.now();
    const t0 = performance.now();
    const id = newEventId();
    const base = {
      id,
      provider,
      api: p.adapter.api,
      operation: p.adapter.operation,
      requestedModel: p.plan.requestedModel,
      attempt: p.attempt,
      startedAt,
      streamed: p.plan.streamed,
      scope: p.scope,
      ...(p.step !== undefined && { step: p.step }),
    };

    // Refused before it is sent: recorded as blocked, answered in the provider's shape.
    const refuse = (type: string, message: string, errorType: string) => {
      emit({ ...base, reading: {}, status: "blocked", errorType, latencyMs: performance.now() - t0 });
      return refusalResponse(family, type, message);
    };
    const run = p.scope?.run;
    const runStop = run?.admitCall(p.attempt) ?? null;
    if (runStop) return refuse(REFUSAL_TYPES.run, runStop.message, `agent run stopped: ${runStop.ceiling}`);
    let sent = p.init;
    if (options.guard && p.plan.requestedModel !== undefined) {
      const body = parseJson(String(sent.body)) as Record<string, unknown>;
      const decision = await options.guard({
        id,
        provider,
        model: p.plan.requestedModel,
        operation: p.adapter.operation,
        body,
        bodyChars: String(sent.body).length,
        attempt: p.attempt,
        scope: p.scope,
      });
      if (decision.action === "refuse") {
        if (decision.reason === "agent_run_ceiling")
          run?.halt({ ceiling: "server", used: "", max: "", source: "server", message: decision.message });
        else run?.cancelCall(p.attempt);
        return refuse(refusalType(decision), decision.message, `blocked by ${decision.budget}`.slice(0, 128));
      }
      if (decision.model !== p.plan.requestedModel) sent = { ...sent, body: JSON.stringify({ ...body, model: decision.model }) };
    }
    // A run stopped at a ceiling cuts off its calls in flight.
    if (run) sent = { ...sent, signal: sent.signal ? AbortSignal.any([sent.signal, run.signal]) : run.signal };

    let response: Response;
    try {
      response = await original.call(undefined, input, sent);
    } catch (err) {
      const elapsed = performance.now() - t0;
      const stop = run?.stop;
      if (stop && run?.signal.aborted && !p.init.signal?.aborted) {
        emit({ ...base, reading: {}, status: "aborted", errorType: `agent run stopped: ${stop.ceiling}`, latencyMs: elapsed });
        return refusalResponse(family, REFUSAL_TYPES.run, stop.message);
      }
      let errorType = "connection_error";
      let status: EventStatus = "error";
      if (isAbortError(err) || p.init.signal?.aborted) {
        // The clients abort their own request on timeout; a shorter wait was the caller's abort.
        const timedOut = p.timeoutMs !== undefined && elapsed >= p.timeoutMs - 50;
        errorType = timedOut ? "timeout" : "aborted";
        if (!timedOut) status = "aborted";
      }
      emit({ ...base, reading: {}, status, errorType, latencyMs: elapsed });
      throw err;
    }

    try {
      return observe(response, p, base, t0, emit);
    } catch {
      return response;
    }
  };
}

type Base = Omit<CallRecord, "reading" | "status" | "latencyMs">;

function observe(response: Response, p: Prepared, base: Base, t0: number, emit: (r: CallRecord) => void): Response {
  if (!response.ok) {
    response
      .clone()
      .text()
      .then(
        (text) => providerErrorType(response.status, parseJson(text)),
        () => `http_${response.status}`,
      )
      .then((errorType) => emit({ ...base, reading: {}, status: "error", errorType, latencyMs: performance.now() - t0 }));
    return response;
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (contentType.includes("text/event-stream") && response.body) {
    return observeStream(response, p, base, t0, emit);
  }
  response
    .clone()
    .json()
    .then(
      (body: unknown) => emit({ ...base, reading: p.adapter.readBody(body), status: "ok", latencyMs: performance.now() - t0 }),
      (err: unknown) =>
        emit({
          ...base,
          reading: {},
          status: isAbortError(err) ? "aborted" : "error",
          errorType: isAbortError(err) ? "aborted" : "unreadable_response",
          latencyMs: performance.now() - t0,
        }),
    );
  return response;
}

function observeStream(response: Response, p: Prepared, base: Base, t0: number, emit: (r: CallRecord) => void): Response {
  const reader: StreamReader = p.adapter.streamReader(p.plan);
  let ttftMs: number | undefined;
  const body = relaySse(response.body as ReadableStream<Uint8Array>, reader, p.plan.usageInjected, {
    onFirstContent() {
      ttftMs = performance.now() - t0;
    },
    onEnd(end: StreamEnd) {
      emit({ ...base, ...streamOutcome(end, reader), latencyMs: performance.now() - t0, ...(ttftMs !== undefined && { ttftMs }) });
    },
  });
  const headers = new Headers(response.headers);
  if (p.plan.usageInjected) headers.delete("content-length");
  const relayed = new Response(body, { status: response.status, statusText: response.statusText, headers });
  Object.defineProperty(relayed, "url", { value: response.url });
  return relayed;
}
