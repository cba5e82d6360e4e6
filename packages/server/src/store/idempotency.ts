import type { UsageEvent } from "@costtrail/core";
import { stringify } from "safe-stable-stringify";
import { fingerprint } from "./id-index.js";

/**
 * When two events are the same event. Identity is the event's id within its project: a key
 * limited to one project can neither see nor claim another project's ids. A resend of the same
 * event is a duplicate; the same identity with another timestamp or other content is a
 * conflict. Drivers decide where to look for the earlier copy; the rules are these.
 */

/** The identity of an event: its project and id. */
export function identityOf(project: string | null | undefined, id: string): string {
  return `${project ?? ""}\u0000${id}`;
}

/**
 * A 52-bit fingerprint of what an event says: every field as validated, with the timestamp as
 * an instant and object keys in sorted order, so the same event serialized another way (keys
 * reordered, "…:00Z" or "…:00.000Z", another UTC offset) is recognised as the same.
 */
export function contentHash(event: UsageEvent, timestampMs: number): number {
  return fingerprint(stringify({ ...event, timestamp: timestampMs }) ?? "");
}

/** The earlier copy of an event, as far as the rules need it. */
export interface PriorEvent {
  readonly tsMs: number;
  /** null for an event stored before content hashes were kept: then the timestamp decides. */
  readonly contentHash: number | null;
}

export type Verdict = "duplicate" | "conflict";

export function judge(prior: PriorEvent, tsMs: number, hash: number): Verdict {
  return prior.tsMs === tsMs && (prior.contentHash === null || prior.contentHash === hash) ? "duplicate" : "conflict";
}
