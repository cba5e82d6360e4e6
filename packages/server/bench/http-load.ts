/**
 * Load for the benches, over loopback HTTP only: closed-loop ingest clients, a paced ingest
 * client, wrk for the small-batch phases, and timed queries. node:http with keep-alive, which
 * costs the client far less per request than fetch.
 */
import { spawn } from "node:child_process";
import http from "node:http";

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly ms: number;
  readonly retryAfterS: number;
}

export class Target {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  constructor(
    url: string,
    readonly key: string,
  ) {
    this.url = new URL(url);
    if (this.url.hostname !== "127.0.0.1") throw new Error(`benches only talk to 127.0.0.1, not ${this.url.hostname}`);
  }

  get href(): string {
    return this.url.href.replace(/\/$/, "");
  }

  post(path: string, payload: string): Promise<Reply> {
    return this.request("POST", path, payload);
  }

  get(path: string): Promise<Reply> {
    return this.request("GET", path, "");
  }

  private request(method: "GET" | "POST", path: string, payload: string): Promise<Reply> {
    const t = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path,
          method,
          headers: {
            authorization: `Bearer ${this.key}`,
            ...(method === "POST" && { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString(),
              ms: performance.now() - t,
              retryAfterS: Number(res.headers["retry-after"] ?? 1),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** What the clients of one phase saw. */
export class IngestTally {
  accepted = 0;
  unpriced = 0;
  rejected = 0;
  duplicates = 0;
  conflicts = 0;
  /** 503s; each request was retried after its Retry-After. */
  shed = 0;
  bodyBytes = 0;
  readonly ackMs: number[] = [];

  /** Posts one batch until it is answered with 200, honouring Retry-After on 503. */
  async send(target: Target, payload: string): Promise<void> {
    for (;;) {
      const reply = await target.post("/v1/events", payload);
      if (reply.status === 503) {
        this.shed++;
        await sleep(reply.retryAfterS * 1000);
        continue;
      }
      if (reply.status !== 200) throw new Error(`POST /v1/events answered ${reply.status}: ${reply.text.slice(0, 500)}`);
      const answer = JSON.parse(reply.text) as {
        accepted: number;
        unpriced: number;
        rejected: unknown[];
        // Builds before duplicates were listed answered a count and no conflicts (BENCH_BIN A/B runs).
        duplicates: unknown[] | number;
        conflicts?: unknown[];
      };
      this.accepted += answer.accepted;
      this.unpriced += answer.unpriced;
      this.rejected += answer.rejected.length;
      this.duplicates += typeof answer.duplicates === "number" ? answer.duplicates : answer.duplicates.length;
      this.conflicts += answer.conflicts?.length ?? 0;
      this.bodyBytes += payload.length;
      this.ackMs.push(reply.ms);
      return;
    }
  }
}

/** Takes `batch` events at a time from a shared stream and serializes them as one request body. */
export class BatchSource {
  constructor(
    private readonly events: Iterator<Record<string, unknown>>,
    private readonly batch: number,
  ) {}

  next(): string | null {
    const out: Array<Record<string, unknown>> = [];
    for (let r = this.events.next(); !r.done; r = this.events.next()) {
      out.push(r.value);
      if (out.length === this.batch) break;
    }
    return out.length === 0 ? null : JSON.stringify(out);
  }
}

/**
 * `clients` closed-loop clients, each posting its next batch as soon as the last one is
 * acknowledged, until the source runs dry or `deadline` (performance.now() ms) passes.
 * `onAck` sees the running total after each acknowledgement.
 */
export async function ingestClosedLoop(
  target: Target,
  source: BatchSource,
  clients: number,
  deadline: number,
  onAck: (tally: IngestTally) => void = () => {},
): Promise<IngestTally> {
  const tally = new IngestTally();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let body = source.next(); body !== null && performance.now() < deadline; body = source.next()) {
        await tally.send(target, body);
        onAck(tally);
      }
    }),
  );
  return tally;
}

/** Ingest at a set rate: a batch every batch/rate seconds, at most `maxInFlight` outstanding. */
export class PacedIngest {
  readonly tally = new IngestTally();
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(
    private readonly target: Target,
    private readonly source: BatchSource,
    private readonly eventsPerSecond: number,
    private readonly batch: number,
    private readonly maxInFlight = 4,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    const intervalMs = (1000 * this.batch) / this.eventsPerSecond;
    const inFlight = new Set<Promise<void>>();
    this.done = (async () => {
      for (let due = this.startedAt; !this.stopped; due += intervalMs) {
        await sleep(due - performance.now());
        while (inFlight.size >= this.maxInFlight) await Promise.race(inFlight);
        const body = this.source.next();
        if (body === null) break;
        const p: Promise<void> = this.tally.send(this.target, body).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    })();
  }

  async stop(): Promise<{ seconds: number; eventsPerSecond: number }> {
    this.stopped = true;
    this.stoppedAt = performance.now();
    await this.done;
    const seconds = (this.stoppedAt - this.startedAt) / 1000;
    return { seconds, eventsPerSecond: this.tally.accepted / seconds };
  }
}

export interface QueryTiming {
  readonly medianMs: number;
  readonly maxMs: number;
  readonly rows: number;
  /** Size of the answer's JSON: a large answer's serialization and transfer are part of its time. */
  readonly bytes: number;
  readonly runs: number;
}

/** One warm-up, then `runs` timed POST /v1/query round trips, sequential. */
export async function timeQuery(target: Target, spec: Record<string, unknown>, runs: number): Promise<QueryTiming> {
  const times: number[] = [];
  let rows = 0;
  let bytes = 0;
  for (let i = 0; i <= runs; i++) {
    const reply = await target.post("/v1/query", JSON.stringify(spec));
    if (reply.status !== 200) throw new Error(`POST /v1/query answered ${reply.status}: ${reply.text.slice(0, 500)}`);
    if (i === 0) {
      rows = (JSON.parse(reply.text) as { rows: unknown[] }).rows.length;
      bytes = Buffer.byteLength(reply.text);
    } else times.push(reply.ms);
  }
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 0.5), maxMs: times.at(-1) as number, rows, bytes, runs };
}

/** The ledger's event count, by a query over all time. */
export async function countEvents(target: Target): Promise<number> {
  const spec = { metrics: ["requests"], from: "2020-01-01T00:00:00Z", to: new Date(Date.now() + 2 * 86_400_000).toISOString() };
  const reply = await target.post("/v1/query", JSON.stringify(spec));
  if (reply.status !== 200) throw new Error(`count query answered ${reply.status}: ${reply.text.slice(0, 500)}`);
  return Number((JSON.parse(reply.text) as { rows: Array<{ requests: number | string }> }).rows[0]?.requests ?? 0);
}

export interface WrkResult {
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Acknowledged requests (2xx). */
  readonly requests: number;
  readonly non2xx: number;
  readonly seconds: number;
}

/** Running wrk processes, so a failing bench can stop them by PID. */
const wrkPids = new Set<number>();
export function killAllWrk(): void {
  for (const pid of wrkPids) process.kill(pid, "SIGKILL");
}

/**
 * wrk (a C load generator) posting `batch` events per request from `connections` connections
 * for `seconds`; bodies come from a pool file of pre-generated events (see wrk/post-pool.lua).
 */
export async function runWrk(
  target: Target,
  opts: { batch: number; connections: number; seconds: number; pool: string; idPrefix: string; script: string },
): Promise<WrkResult> {
  const child = spawn(
    "wrk",
    [
      "-t1",
      `-c${opts.connections}`,
      `-d${opts.seconds}s`,
      "--timeout",
      "30s",
      "--latency",
      "-s",
      opts.script,
      target.href,
      "--",
      String(opts.batch),
      target.key,
      opts.idPrefix,
      opts.pool,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  wrkPids.add(child.pid as number);
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  wrkPids.delete(child.pid as number);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${err}${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const seconds = wrkDuration(/requests in ([\d.]+\w+)/.exec(out)?.[1] ?? `${opts.seconds}s`) / 1000;
  return {
    eventsPerSecond: ((requests - non2xx) * opts.batch) / seconds,
    // Lines of the latency distribution only: a "+/- Stdev" column such as "68.99%" must not match.
    p50Ms: wrkDuration(/^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    p99Ms: wrkDuration(/^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    requests: requests - non2xx,
    non2xx,
    seconds,
  };
}

/** wrk prints durations as 812.00us, 31.50ms, 1.02s or 1.00m. */
function wrkDuration(text: string): number {
  const m = /([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return { us: v / 1000, ms: v, s: v * 1000, m: v * 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
