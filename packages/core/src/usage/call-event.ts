import type { Api, EventStatus, UsageEvent } from "../event/usage-event.js";
import type { UsageBuckets } from "./buckets.js";
import { type StreamReader, type UsageReading, isRecord, stringOf } from "./call-reader.js";

/** Tags a measured call adds to its event. */
export const CALL_TAGS = { requestedModel: "requested_model", usageEstimated: "usage_estimated" } as const;

/** One attempt at a provider API, measured by the SDK's wrappers or the gateway. */
export interface MeasuredCall {
  /** The provider API whose usage object `reading.rawUsage` is; without it, `usage` holds buckets. */
  readonly api?: Api;
  readonly operation: NonNullable<UsageEvent["operation"]>;
  readonly requestedModel: string | undefined;
  readonly reading: UsageReading;
  /** Usage already split into buckets, when no raw usage object is at hand. */
  readonly usage?: UsageBuckets;
  /** Output tokens estimated from the content events of a stream that ended without usage. */
  readonly estimatedOutputTokens?: number;
  readonly status: EventStatus;
  readonly errorType?: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly latencyMs: number;
  readonly ttftMs?: number;
  readonly streamed: boolean;
}

/** The event fields a measured call gives (all but id, provider and attribution), and the tags it adds. */
export function callEventFields(call: MeasuredCall): { fields: Record<string, unknown>; tags: Record<string, string> } {
  const r = call.reading;
  const tags: Record<string, string> = {};
  if (call.requestedModel) tags[CALL_TAGS.requestedModel] = call.requestedModel;
  const fields: Record<string, unknown> = {
    timestamp: new Date(call.startedAt).toISOString(),
    model: r.model ?? call.requestedModel ?? "unknown",
    ...(call.api !== undefined && { api: call.api }),
    operation: call.operation,
    status: call.status,
    attempt: call.attempt,
    latency_ms: Math.round(call.latencyMs),
    streamed: call.streamed,
  };
  if (r.rawUsage && call.api !== undefined) fields.raw_usage = r.rawUsage;
  else if (call.usage) fields.usage = call.usage;
  else if (call.estimatedOutputTokens !== undefined) {
    fields.usage = { output_tokens: call.estimatedOutputTokens };
    tags[CALL_TAGS.usageEstimated] = "output_from_stream_events";
  } else fields.usage = {};
  // A refused call spent nothing, also when its model has no price.
  if (call.status === "blocked") fields.cost_usd = "0";
  if (call.errorType) fields.error_type = call.errorType.slice(0, 128);
  if (call.ttftMs !== undefined) fields.ttft_ms = Math.round(call.ttftMs);
  if (r.serviceTier) fields.service_tier = r.serviceTier;
  return { fields, tags };
}

/** How a relayed stream ended: read to its end, cancelled or aborted by the client, or broken off. */
export type StreamEnd = "done" | "aborted" | "failed";

/** A finished stream's usage, status and error type, as far as its reader saw it. */
export function streamOutcome(
  end: StreamEnd,
  reader: StreamReader,
): Pick<MeasuredCall, "reading" | "estimatedOutputTokens" | "status" | "errorType"> {
  const reading: UsageReading = { rawUsage: reader.rawUsage, model: reader.model, serviceTier: reader.serviceTier };
  const errorType = end === "aborted" ? "aborted" : end === "failed" ? "stream_interrupted" : reader.streamError;
  return {
    reading,
    ...(reading.rawUsage === undefined && reader.contentEvents > 0 && { estimatedOutputTokens: reader.contentEvents }),
    status: end === "aborted" ? "aborted" : end === "failed" || reader.streamError ? "error" : "ok",
    ...(errorType !== undefined && { errorType }),
  };
}

/** An error answer's type: its HTTP status and the name the provider gives it (OpenAI `error.type`/`code`, Anthropic `error.type`). */
export function providerErrorType(status: number, body: unknown): string {
  const err = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const named = err ? (stringOf(err.type) ?? stringOf(err.code)) : undefined;
  return named ? `${status} ${named}`.slice(0, 128) : `http_${status}`;
}
