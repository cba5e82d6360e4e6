import { randomBytes, randomUUID } from "node:crypto";

/** Event ids make ingest idempotent: a batch sent twice is written once. */
export function newEventId(): string {
  return `evt_${randomUUID().replaceAll("-", "")}`;
}

/** W3C trace context sizes, so the ids line up with OpenTelemetry spans of the same work. */
export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

export function newRunId(): string {
  return `run_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}
