import type { Api, EventStatus, UsageBuckets, UsageEvent } from "@costtrail/core";
import type { CallScope } from "../context/attribution.js";
import type { UsageReading } from "@costtrail/core";

/**
 * One attempt at a billable call, measured by a wrapper or an integration: the SDK turns it
 * into one usage event.
 */
export interface CallRecord {
  readonly provider: string;
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
  /** 1 for the first try; the official clients number their retries in `X-Stainless-Retry-Count`. */
  readonly attempt: number;
  readonly startedAt: number;
  readonly latencyMs: number;
  readonly ttftMs?: number;
  readonly streamed: boolean;
  /** The app's context when the call was made. */
  readonly scope: CallScope | undefined;
  /** The call's step in its agent run, taken when the call started. */
  readonly step?: number;
}

export type CallSink = (call: CallRecord) => void;
