import type { MeasuredCall } from "@costtrail/core";
import type { CallScope } from "../context/attribution.js";

/**
 * One attempt at a billable call, measured by a wrapper or an integration: the SDK turns it
 * into one usage event.
 */
export interface CallRecord extends MeasuredCall {
  /** The event id, when it had to be known before the call (a budget reserved under it). */
  readonly id?: string;
  readonly provider: string;
  /** The app's context when the call was made. */
  readonly scope: CallScope | undefined;
  /** The call's step in its agent run, taken when the call started. */
  readonly step?: number;
}

export type CallSink = (call: CallRecord) => void;
