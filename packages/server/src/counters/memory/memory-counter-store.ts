import type { CounterLevel, CounterRef, CounterStore, ReserveLine, ReserveResult, SpendEntry } from "../counter-store.js";

interface Counter {
  readonly buckets: Map<number, bigint>;
  reserved: bigint;
}

interface Reservation {
  readonly lines: ReadonlyArray<{ readonly key: string; readonly amount: bigint }>;
  readonly expiresAtMs: number;
}

/**
 * Counters in this process. Every method runs to completion without awaiting, so a reserve
 * is atomic against every other check on the event loop.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = "memory";
  private readonly counters = new Map<string, Counter>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly seeded = new Set<string>();
  private lastSweepMs = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private counter(key: string): Counter {
    let c = this.counters.get(key);
    if (!c) {
      c = { buckets: new Map(), reserved: 0n };
      this.counters.set(key, c);
    }
    return c;
  }

  private level(ref: CounterRef): CounterLevel {
    const c = this.counters.get(ref.key);
    if (!c) return { spent: 0n, reserved: 0n };
    let spent = 0n;
    for (const [bucket, amount] of c.buckets) if (bucket >= ref.fromMs && bucket < ref.toMs) spent += amount;
    return { spent, reserved: c.reserved };
  }

  /** Expired reservations go at most once a second: a sweep walks every call in flight. */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweepMs < 1000) return;
    this.lastSweepMs = now;
    for (const [id, r] of this.reservations) if (r.expiresAtMs <= now) this.drop(id);
  }

  private drop(id: string): void {
    const r = this.reservations.get(id);
    if (!r) return;
    this.reservations.delete(id);
    for (const line of r.lines) {
      const c = this.counters.get(line.key);
      if (c) c.reserved -= line.amount;
    }
  }

  async levels(refs: readonly CounterRef[]): Promise<CounterLevel[]> {
    this.sweep();
    return refs.map((r) => this.level(r));
  }

  async reserve(id: string, lines: readonly ReserveLine[], ttlMs: number): Promise<ReserveResult> {
    this.sweep();
    const levels = lines.map((l) => this.level(l.ref));
    if (this.reservations.has(id)) return { ok: true, levels };
    for (let i = 0; i < lines.length; i++) {
      const { amount, cap } = lines[i] as ReserveLine;
      const { spent, reserved } = levels[i] as CounterLevel;
      if (cap !== null && spent + reserved + amount > cap) return { ok: false, line: i, levels };
    }
    this.reservations.set(id, { lines: lines.map((l) => ({ key: l.ref.key, amount: l.amount })), expiresAtMs: this.now() + ttlMs });
    for (const l of lines) this.counter(l.ref.key).reserved += l.amount;
    return { ok: true, levels };
  }

  async record(spend: readonly SpendEntry[], settled: readonly string[]): Promise<void> {
    for (const e of spend) {
      const c = this.counter(e.key);
      c.buckets.set(e.bucketMs, (c.buckets.get(e.bucketMs) ?? 0n) + e.amount);
    }
    for (const id of settled) this.drop(id);
  }

  async release(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.drop(id);
  }

  async claimSeed(prefix: string): Promise<boolean> {
    if (this.seeded.has(prefix)) return false;
    this.seeded.add(prefix);
    return true;
  }

  async seed(key: string, buckets: ReadonlyMap<number, bigint>): Promise<void> {
    const c = this.counter(key);
    for (const [b, amount] of buckets) c.buckets.set(b, (c.buckets.get(b) ?? 0n) + amount);
  }

  async retire(prefix: string): Promise<void> {
    this.seeded.delete(prefix);
    for (const key of [...this.counters.keys()]) if (key.startsWith(prefix)) this.counters.delete(key);
  }

  async prune(beforeMs: number, liveKey: (key: string) => boolean): Promise<void> {
    for (const [key, c] of this.counters) {
      for (const b of c.buckets.keys()) if (b < beforeMs) c.buckets.delete(b);
      // A scope seen once (one user of an each-value-of budget) is not kept for ever.
      if (c.reserved === 0n && (c.buckets.size === 0 || !liveKey(key))) this.counters.delete(key);
    }
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.counters.keys()].filter((k) => k.startsWith(prefix));
  }

  async close(): Promise<void> {}
}
