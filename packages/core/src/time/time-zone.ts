/**
 * UTC offsets of an IANA time zone over a range, as segments between transitions. Stores
 * keep instants in UTC; a query in a time zone shifts each instant by its segment's offset,
 * which is plain arithmetic in SQL instead of a calendar library call per row.
 */
export interface OffsetSegment {
  /** The segment applies to instants before this one (epoch ms); the last is open-ended. */
  readonly untilMs: number;
  readonly offsetMin: number;
}

/** Whether the runtime knows an IANA zone name. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in minutes (Berlin in summer: 120). */
export function offsetAt(timeZone: string, ms: number): number {
  if (timeZone === "UTC") return 0;
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
    formatters.set(timeZone, f);
  }
  const name = f.formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
}

const HOUR = 3_600_000;

/** Offset segments covering [fromMs, toMs]; transitions are found to the minute. */
export function offsetSegments(timeZone: string, fromMs: number, toMs: number): OffsetSegment[] {
  const segments: OffsetSegment[] = [];
  let current = offsetAt(timeZone, fromMs);
  // Zones change offset at most a few times a year, never twice within six hours.
  const step = 6 * HOUR;
  for (let t = fromMs; t < toMs; t += step) {
    const next = Math.min(t + step, toMs);
    const o = offsetAt(timeZone, next);
    if (o === current) continue;
    let lo = t;
    let hi = next;
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (offsetAt(timeZone, mid) === current) lo = mid;
      else hi = mid;
    }
    segments.push({ untilMs: hi - (hi % 60_000), offsetMin: current });
    current = o;
  }
  segments.push({ untilMs: Number.POSITIVE_INFINITY, offsetMin: current });
  return segments;
}

/**
 * The instant at which a local wall time (given as if it were UTC) occurs in the zone: the
 * first one when clocks fall back and it occurs twice, and the end of the gap when clocks spring
 * forward over it (Santiago's midnight on its spring-forward day is 01:00).
 */
export function localToInstant(timeZone: string, localMs: number): number {
  const localOf = (ms: number) => ms + offsetAt(timeZone, ms) * 60_000;
  // Offsets change at most a few times a year: the ones half a day either side are the two candidates.
  const early = localMs - offsetAt(timeZone, localMs - 43_200_000) * 60_000;
  const late = localMs - offsetAt(timeZone, localMs + 43_200_000) * 60_000;
  const first = Math.min(early, late);
  const second = Math.max(early, late);
  if (localOf(first) === localMs) return first;
  if (localOf(second) === localMs) return second;
  return second;
}
