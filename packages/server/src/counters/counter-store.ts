/**
 * Spend counters per budget scope: a cache of the ledger that budget checks read on every
 * call, so they never wait on a query. Amounts are whole nano-dollars.
 *
 * A counter is a key (budget and scope) holding spend per bucket (a calendar period's start,
 * or an hour for rolling budgets), and the reservations of calls in flight. A reservation is
 * taken atomically over every budget a call falls in, only while each stays under its cap;
 * it is settled when the call's event reaches the ledger (its id is the event's id), and
 * expires if it never does. The memory store serves one process; the Redis store, replicas.
 */
export interface CounterRef {
  readonly key: string;
  /** Buckets counted: from (inclusive) to (exclusive), epoch ms. */
  readonly fromMs: number;
  readonly toMs: number;
}

export interface CounterLevel {
  readonly spent: bigint;
  readonly reserved: bigint;
}

export interface ReserveLine {
  readonly ref: CounterRef;
  readonly amount: bigint;
  /** spent + reserved + amount must stay at or under this; null: no hard cap. */
  readonly cap: bigint | null;
}

export type ReserveResult =
  | { readonly ok: true; readonly levels: readonly CounterLevel[] }
  /** Nothing was reserved: line `line` would have passed its cap. Levels as they were. */
  | { readonly ok: false; readonly line: number; readonly levels: readonly CounterLevel[] };

export interface SpendEntry {
  readonly key: string;
  readonly bucketMs: number;
  readonly amount: bigint;
}

export interface CounterStore {
  readonly kind: "memory" | "redis";
  levels(refs: readonly CounterRef[]): Promise<CounterLevel[]>;
  /** All lines or none. Reserving an id again adds nothing and answers as the first time did. */
  reserve(id: string, lines: readonly ReserveLine[], ttlMs: number): Promise<ReserveResult>;
  /**
   * Adds recorded spend and settles the reservations of the same events, in one step, so that
   * no check sees a call counted twice or not at all. Settling an id again, or one never
   * reserved, does nothing.
   */
  record(spend: readonly SpendEntry[], settled: readonly string[]): Promise<void>;
  /** Releases reservations without spend (a call refused after reserving). */
  release(ids: readonly string[]): Promise<void>;
  /**
   * Whether this process is the one to seed a budget's counters (all keys under `prefix`) from
   * its ledger: true once per prefix across every process sharing the store, until it is retired.
   */
  claimSeed(prefix: string): Promise<boolean>;
  /**
   * Adds a key's spend as the ledger has it, on top of what live events have added meanwhile:
   * events that arrive while the ledger is read may be counted twice, never missed.
   */
  seed(key: string, buckets: ReadonlyMap<number, bigint>): Promise<void>;
  /** Forgets every key under `prefix` and its seed claim: a budget whose definition changed. */
  retire(prefix: string): Promise<void>;
  /** The keys that start with a prefix (the scopes of an "each value of" budget). */
  keys(prefix: string): Promise<string[]>;
  /**
   * Drops buckets older than `beforeMs`, keys left with no spend and nothing reserved, and keys
   * no budget uses any more.
   */
  prune(beforeMs: number, liveKey: (key: string) => boolean): Promise<void>;
  close(): Promise<void>;
}
