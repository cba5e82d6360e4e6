import { createHash } from "node:crypto";
import { CosttrailError } from "@costtrail/core";
import type { CounterLevel, CounterRef, CounterStore, ReserveLine, ReserveResult, SpendEntry } from "../counter-store.js";
import { LEVELS, RECORD, RELEASE, RESERVE, SEED } from "./redis-scripts.js";

/** The part of node-redis's client this store uses. */
interface RedisClient {
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy(): void;
  on(event: "error", listener: (err: Error) => void): unknown;
  evalSha(sha: string, options: { arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { arguments: string[] }): Promise<unknown>;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[] | string>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, fields: string[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { NX: true }): Promise<string | null>;
  del(keys: string[]): Promise<unknown>;
}

export interface RedisCounterOptions {
  readonly url: string;
  readonly keyPrefix: string;
  /** The longest a command may take before the check or record gives up on it. */
  readonly commandTimeoutMs?: number;
  readonly now?: () => number;
}

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

/** A Redis glob matching keys that start with `prefix` literally. */
function globPrefix(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
}

/**
 * Counters in Redis, shared by server replicas: every operation is one Lua script, run
 * atomically by Redis. The client is loaded only when the configuration asks for Redis.
 * Commands are not queued while Redis is unreachable: they fail at once, and the budget
 * service decides what a check does then.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = "redis";
  private readonly now: () => number;
  private readonly timeoutMs: number;

  private constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    opts: RedisCounterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.commandTimeoutMs ?? 2000;
  }

  static async connect(opts: RedisCounterOptions, onError: (err: Error) => void): Promise<RedisCounterStore> {
    const { createClient } = await import("redis");
    const client = createClient({
      url: opts.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000) },
    }) as unknown as RedisClient;
    client.on("error", onError);
    try {
      await client.connect();
    } catch (cause) {
      client.destroy();
      throw new CosttrailError("CT_INVALID_CONFIG", `counters.redis_url: Redis could not be reached: ${(cause as Error).message}`, {
        cause,
        path: ["counters", "redis_url"],
      });
    }
    return new RedisCounterStore(client, opts.keyPrefix, opts);
  }

  private async run(script: string, args: string[]): Promise<unknown> {
    const call = async () => {
      try {
        return await this.client.evalSha(sha1(script), { arguments: args });
      } catch (e) {
        if (!String((e as Error).message).startsWith("NOSCRIPT")) throw e;
        return this.client.eval(script, { arguments: args });
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([call(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private head(): string[] {
    return [this.prefix, String(this.now())];
  }

  async levels(refs: readonly CounterRef[]): Promise<CounterLevel[]> {
    const args = [...this.head(), String(refs.length)];
    for (const r of refs) args.push(r.key, String(r.fromMs), String(r.toMs));
    const out = (await this.run(LEVELS, args)) as number[];
    return refs.map((_, i) => ({ spent: BigInt(out[i * 2] ?? 0), reserved: BigInt(out[i * 2 + 1] ?? 0) }));
  }

  async reserve(id: string, lines: readonly ReserveLine[], ttlMs: number): Promise<ReserveResult> {
    const args = [...this.head(), id, String(this.now() + ttlMs), String(lines.length)];
    for (const l of lines)
      args.push(l.ref.key, String(l.ref.fromMs), String(l.ref.toMs), l.amount.toString(), l.cap === null ? "" : l.cap.toString());
    const out = (await this.run(RESERVE, args)) as number[];
    const levels = lines.map((_, i) => ({ spent: BigInt(out[2 + i * 2] ?? 0), reserved: BigInt(out[3 + i * 2] ?? 0) }));
    return out[0] === 1 ? { ok: true, levels } : { ok: false, line: out[1] as number, levels };
  }

  async record(spend: readonly SpendEntry[], settled: readonly string[]): Promise<void> {
    if (spend.length === 0 && settled.length === 0) return;
    const args = [...this.head(), String(spend.length)];
    for (const s of spend) args.push(s.key, String(s.bucketMs), s.amount.toString());
    args.push(...settled);
    await this.run(RECORD, args);
  }

  async release(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.run(RELEASE, [...this.head(), ...ids]);
  }

  async claimSeed(prefix: string): Promise<boolean> {
    return (await this.client.set(`${this.prefix}seeded:${prefix}`, "1", { NX: true })) === "OK";
  }

  async seed(key: string, buckets: ReadonlyMap<number, bigint>): Promise<void> {
    const args = [...this.head(), key];
    for (const [b, amount] of buckets) args.push(String(b), amount.toString());
    await this.run(SEED, args);
  }

  async retire(prefix: string): Promise<void> {
    const keys = [`${this.prefix}seeded:${prefix}`];
    for (const kind of ["s:", "rt:"]) keys.push(...(await this.scan(globPrefix(`${this.prefix}${kind}${prefix}`))));
    for (let i = 0; i < keys.length; i += 500) await this.client.del(keys.slice(i, i + 500));
  }

  private async scan(pattern: string): Promise<string[]> {
    const out: string[] = [];
    for await (const batch of this.client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
      for (const k of Array.isArray(batch) ? batch : [batch]) out.push(k);
    }
    return out;
  }

  async keys(prefix: string): Promise<string[]> {
    const found = new Set<string>();
    for (const kind of ["s:", "rt:"]) {
      const p = `${this.prefix}${kind}`;
      for (const k of await this.scan(globPrefix(p + prefix))) found.add(k.slice(p.length));
    }
    return [...found];
  }

  async prune(beforeMs: number, liveKey: (key: string) => boolean): Promise<void> {
    const p = `${this.prefix}s:`;
    for (const full of await this.scan(globPrefix(p))) {
      const key = full.slice(p.length);
      const reserved = await this.client.get(`${this.prefix}rt:${key}`);
      const idle = reserved === null || reserved === "0";
      if (!liveKey(key)) {
        if (idle) await this.client.del([full, `${this.prefix}rt:${key}`]);
        continue;
      }
      const buckets = Object.keys(await this.client.hGetAll(full));
      const old = buckets.filter((b) => Number(b) < beforeMs);
      if (old.length > 0) await this.client.hDel(full, old);
      // A scope seen once (one user of an each-value-of budget) is not kept for ever.
      if (old.length === buckets.length && idle) await this.client.del([full, `${this.prefix}rt:${key}`]);
    }
  }

  async close(): Promise<void> {
    try {
      await (this.client.close?.() ?? this.client.quit?.());
    } catch {
      this.client.destroy();
    }
  }
}
