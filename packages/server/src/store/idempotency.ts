import type { UsageEvent } from "@costtrail/core";
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

/** A flat map with its keys in order, so the same map sent in another order reads the same. */
function sorted<T>(map: Readonly<Record<string, T>> | undefined): Record<string, T> | undefined {
  if (map === undefined) return undefined;
  const keys = Object.keys(map);
  if (keys.length < 2) return map;
  const out: Record<string, T> = {};
  for (const k of keys.sort()) out[k] = map[k] as T;
  return out;
}

/**
 * A 52-bit fingerprint of what an event says: every field as validated (validation lists them
 * in schema order), the timestamp as an instant, and the small maps (tags, usage, units) in key
 * order, so the same event serialized another way ("…:00Z" or "…:00.000Z", another UTC offset,
 * tags reordered) is recognised as the same. The provider's raw usage is taken as the text the
 * ledger stores (`rawUsageJson`), in the order it was sent: serializing it once is most of the
 * cost, and a resend carries the provider's object unchanged.
 */
export function contentHash(event: UsageEvent, timestampMs: number, rawUsageJson: string | null): number {
  const rest = JSON.stringify({
    ...event,
    timestamp: timestampMs,
    raw_usage: undefined,
    tags: sorted(event.tags),
    usage: sorted(event.usage),
    units: sorted(event.units),
  });
  return fingerprint(rawUsageJson === null ? rest : `${rest}\u0000${rawUsageJson}`);
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
