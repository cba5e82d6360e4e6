import { hash } from "node:crypto";

/** A 52-bit fingerprint of a string: exact as a JS number, and cheap to keep in a typed array. */
export function fingerprint(text: string): number {
  return Number.parseInt(hash("md5", text, "hex").slice(0, 13), 16);
}

const HOUR_MS = 3_600_000;

/** One hour of ingest: an open-addressing table of id fingerprints → event timestamps. */
class Generation {
  private keys: Float64Array;
  private ts: Float64Array;
  private used = 0;
  /** Latest event timestamp in this generation. */
  maxTsMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly startMs: number,
    capacity = 1024,
  ) {
    this.keys = new Float64Array(capacity).fill(-1);
    this.ts = new Float64Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  get bytes(): number {
    return this.keys.byteLength + this.ts.byteLength;
  }

  get(fp: number): number | undefined {
    const mask = this.keys.length - 1;
    for (let i = fp & mask; ; i = (i + 1) & mask) {
      const k = this.keys[i] as number;
      if (k === -1) return undefined;
      if (k === fp) return this.ts[i];
    }
  }

  set(fp: number, tsMs: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    let i = fp & mask;
    while (this.keys[i] !== -1 && this.keys[i] !== fp) i = (i + 1) & mask;
    if (this.keys[i] === -1) this.used++;
    this.keys[i] = fp;
    this.ts[i] = tsMs;
    if (tsMs > this.maxTsMs) this.maxTsMs = tsMs;
  }

  private grow(): void {
    const keys = this.keys;
    const ts = this.ts;
    this.keys = new Float64Array(keys.length * 2).fill(-1);
    this.ts = new Float64Array(keys.length * 2);
    this.used = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== -1) this.set(keys[i] as number, ts[i] as number);
  }
}

/**
 * The ids of the events received in a recent window (24 h by default), so that a resent id,
 * with the same timestamp or another, is found without a query over the whole ledger.
 *
 * It keeps 52-bit fingerprints, not ids, in one table per hour of ingest, or per eighth of
 * `maxIds` ids when an hour brings more (16 bytes a slot, at most half full): a hit is confirmed
 * against the ledger, so a fingerprint collision costs a query, never a wrong answer. A table is
 * dropped whole once its hour is older than the window, or early when more than `maxIds` ids
 * are kept.
 *
 * Invariant: every event in the ledger whose timestamp is after `coveredAfterMs` was received
 * inside the window, so it is in the index; an event at or before it (a backfill, a spool
 * drained after days) is checked against the ledger by its time range instead.
 */
export class IdIndex {
  private readonly generations: Generation[] = [];
  private count = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
    /** See the invariant above. */
    public coveredAfterMs: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Ids a generation takes at most, so that dropping the oldest ones by count keeps to maxIds. */
  private get generationIds(): number {
    return Math.max(1024, Math.ceil(this.maxIds / 8));
  }

  get bytes(): number {
    return this.generations.reduce((n, g) => n + g.bytes, 0);
  }

  /** The timestamp of an indexed event with this fingerprint, if any. */
  get(fp: number): number | undefined {
    for (let i = this.generations.length - 1; i >= 0; i--) {
      const ts = (this.generations[i] as Generation).get(fp);
      if (ts !== undefined) return ts;
    }
    return undefined;
  }

  /** Whether an event at this timestamp could be in the ledger without being in the index. */
  mayMiss(tsMs: number): boolean {
    return tsMs <= this.coveredAfterMs;
  }

  add(fp: number, tsMs: number, receivedMs: number): void {
    const hour = Math.floor(receivedMs / HOUR_MS) * HOUR_MS;
    let g = this.generations.at(-1);
    // A generation also ends at an eighth of maxIds: a whole month ingested within one hour
    // (a backfill, a bench) would otherwise be one generation that `maxIds` cannot trim, and
    // its table would keep doubling (measured: 512 MiB for 10M ids, most of the ledger
    // thread's growth at 10M events).
    if (!g || g.startMs < hour || g.size >= this.generationIds) {
      g = new Generation(hour);
      this.generations.push(g);
    }
    const before = g.size;
    g.set(fp, tsMs);
    this.count += g.size - before;
    this.expire(receivedMs);
  }

  /** Drops the hours that left the window, and the oldest ones while over `maxIds`. */
  expire(nowMs: number): void {
    while (this.generations.length > 0) {
      const oldest = this.generations[0] as Generation;
      const outOfWindow = oldest.startMs + HOUR_MS <= nowMs - this.windowMs;
      const overFull = this.count > this.maxIds && this.generations.length > 1;
      if (!outOfWindow && !overFull) break;
      this.generations.shift();
      this.count -= oldest.size;
      if (oldest.maxTsMs > this.coveredAfterMs) this.coveredAfterMs = oldest.maxTsMs;
    }
  }
}
