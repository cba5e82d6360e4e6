/**
 * The ids of recent events, so that a live batch's duplicate check needs no query.
 * Invariant: every event in the ledger whose timestamp is at or after `horizon` is in the
 * map. A batch entirely at or after the horizon is checked here; an older one (a backfill,
 * a spool drained after an outage) is checked against the ledger. Bounded: when full, the
 * oldest-inserted ids are dropped and the horizon moves past their timestamps.
 */
export class RecentIds {
  private readonly ids = new Map<string, number>();
  private horizonMs: number;

  constructor(
    private readonly capacity: number,
    horizonMs: number,
  ) {
    this.horizonMs = horizonMs;
  }

  get horizon(): number {
    return this.horizonMs;
  }

  get size(): number {
    return this.ids.size;
  }

  /** True when every id with a timestamp at or after `minTsMs` is known here. */
  covers(minTsMs: number): boolean {
    return minTsMs >= this.horizonMs;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string, tsMs: number): void {
    this.ids.set(id, tsMs);
    if (this.ids.size <= this.capacity) return;
    // Map iteration is insertion order: drop the oldest-inserted and keep the invariant by
    // moving the horizon past each dropped timestamp.
    for (const [oldId, oldTs] of this.ids) {
      this.ids.delete(oldId);
      if (oldTs + 1 > this.horizonMs) this.horizonMs = oldTs + 1;
      if (this.ids.size <= this.capacity * 0.9) break;
    }
  }
}
