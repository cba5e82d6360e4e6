/**
 * The realistic bench (`npm run bench`): realistic traffic (realistic-events.ts) through HTTP
 * to a separate `costtrail serve` process (the built CLI), measured the way a user would see
 * it. Prints each figure beside its goal; asserts nothing.
 *
 * Full run (BENCH_EVENTS, default 10M): a 1M-event ledger (ingest, then queries idle and while
 * ingest runs at half speed), then a BENCH_EVENTS ledger (sustained ingest at batch 1000 from 4
 * clients with a rate per million, queries idle and while ingesting, then the small-batch
 * phases: batch 1 from 32 connections, batch 100, acks of 500-event batches, WAL bytes per
 * event), with the server's RSS throughout and disk bytes per event after compaction.
 * BENCH_QUICK=1: the 1M ledger only, with the small-batch phases on it (a few minutes).
 *
 * Other knobs: BENCH_SEED, BENCH_SECONDS (per small-batch phase), BENCH_QUERY_RUNS,
 * BENCH_TIMEOUT_MINUTES, BENCH_MEMORY_LIMIT (written to server.memory_limit when the server
 * knows that setting), BENCH_KEEP=1 (keep the data directories), BENCH_PROFILE=<dir> (CPU profiles).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Figures } from "./figures.js";
import {
  BatchSource,
  PacedIngest,
  Target,
  countEvents,
  ingestClosedLoop,
  killAllWrk,
  percentile,
  runWrk,
  sleep,
  timeQuery,
} from "./http-load.js";
import { realisticEvents } from "./realistic-events.js";
import { repricePhase } from "./reprice-phase.js";
import { SERVER_BUILD, ServerProcess, killAllServers } from "./server-process.js";

const QUICK = process.env.BENCH_QUICK === "1";
const SMALL = 1_000_000;
const EVENTS = QUICK ? SMALL : Number(process.env.BENCH_EVENTS ?? 10_000_000);
const SEED = Number(process.env.BENCH_SEED ?? 42);
const PHASE_S = Number(process.env.BENCH_SECONDS ?? (QUICK ? 5 : 10));
const RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 5);
const TIMEOUT_MIN = Number(process.env.BENCH_TIMEOUT_MINUTES ?? (QUICK ? 20 : 75));
const KEEP = process.env.BENCH_KEEP === "1";
const ADMIN_KEY = `bench-admin-${"k".repeat(32)}`;
const CHUNK = 1_000_000;
const MiB = 2 ** 20;
/** Node's own heap, code and buffers on top of server.memory_limit. */
const NODE_MARGIN_MIB = 256;
const WRK_SCRIPT = fileURLToPath(new URL("./wrk/post-pool.lua", import.meta.url));
const HAVE_WRK = spawnSync("wrk", ["--version"]).status !== null;

const figures = new Figures();
const monthEnd = Date.now();

/** server.memory_limit, when the built server knows the setting: the config text and the limit in MiB. */
async function memoryLimitConfig(): Promise<{ config: string | null; limitMiB: number }> {
  const value = process.env.BENCH_MEMORY_LIMIT ?? "1GiB";
  const config = `version: 1\nserver:\n  memory_limit: ${value}\n`;
  const dir = await mkdtemp(join(tmpdir(), "ct-bench-config-"));
  try {
    await writeFile(join(dir, "costtrail.yaml"), config);
    const { loadConfig } = (await import(SERVER_BUILD)) as {
      loadConfig: (file: string) => Promise<{ server: { memory_limit_bytes?: number } }>;
    };
    const loaded = await loadConfig(join(dir, "costtrail.yaml"));
    const bytes = loaded.server.memory_limit_bytes;
    return typeof bytes === "number" ? { config, limitMiB: bytes / MiB } : { config: null, limitMiB: 1024 };
  } catch {
    return { config: null, limitMiB: 1024 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Samples the server's RSS every 250 ms, keeping the largest per phase. */
class RssWatch {
  private timer: NodeJS.Timeout;
  private peak = 0;

  constructor(private readonly server: ServerProcess) {
    this.timer = setInterval(() => {
      void server.memory().then(
        (m) => (this.peak = Math.max(this.peak, m.rssMiB)),
        () => {},
      );
    }, 250);
  }

  async begin(): Promise<void> {
    this.peak = (await this.server.memory()).rssMiB;
    await this.server.resetPeak();
  }

  /** The phase's largest sampled RSS, its true peak (VmHWM since `begin`) and RSS now. */
  async end(): Promise<{ sampledMiB: number; hwmMiB: number; nowMiB: number }> {
    const m = await this.server.memory();
    return { sampledMiB: Math.max(this.peak, m.rssMiB), hwmMiB: m.hwmMiB, nowMiB: m.rssMiB };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Largest size seen of each live segment's WAL while `during` runs: growth ÷ events gives WAL bytes per event. */
async function walGrowth<T>(server: ServerProcess, during: Promise<T>): Promise<{ result: T; bytes: number; segments: number }> {
  const first = await server.walSizes();
  const largest = new Map(first);
  let running = true;
  const sampling = (async () => {
    while (running) {
      for (const [n, size] of await server.walSizes()) largest.set(n, Math.max(size, largest.get(n) ?? 0));
      await sleep(100);
    }
  })();
  const result = await during;
  running = false;
  await sampling;
  for (const [n, size] of await server.walSizes()) largest.set(n, Math.max(size, largest.get(n) ?? 0));
  let bytes = 0;
  for (const [n, size] of largest) bytes += size - (first.get(n) ?? 0);
  return { result, bytes, segments: largest.size };
}

function memoryFigures(label: string, m: { sampledMiB: number; hwmMiB: number; nowMiB: number }, limitMiB: number): void {
  const goal = { kind: "max", value: limitMiB + NODE_MARGIN_MIB } as const;
  figures.add(
    `RSS peak ${label}`,
    m.hwmMiB,
    "MiB",
    goal,
    `(largest sampled ${m.sampledMiB.toFixed(0)} MiB, now ${m.nowMiB.toFixed(0)} MiB)`,
  );
}

/** Sustained ingest of `events` month events at batch 1000 from 4 clients. */
async function sustainedIngest(server: ServerProcess, target: Target, events: number, rss: RssWatch, limitMiB: number): Promise<number> {
  figures.heading(`${label(events)} ledger: sustained ingest, batch 1000 × 4 clients (node:http)`, `${label(events)} ingest`);
  const source = new BatchSource(
    realisticEvents({ seed: SEED, events, clock: "month", endMs: monthEnd, idPrefix: `m${label(events)}` }),
    1000,
  );
  const chunks: Array<{ at: number; rssMiB: number; segments: number }> = [];
  let nextChunk = CHUNK;
  await rss.begin();
  const cpu0 = process.cpuUsage();
  const serverCpu0 = await server.cpuSeconds();
  const t0 = performance.now();
  const deadline = t0 + Math.max(120_000, events / 8);
  const { result: tally, bytes: walBytes } = await walGrowth(
    server,
    ingestClosedLoop(target, source, 4, deadline, (t) => {
      if (t.accepted < nextChunk) return;
      nextChunk += CHUNK;
      const at = performance.now();
      void Promise.all([server.memory(), server.liveSegments()]).then(([m, s]) =>
        chunks.push({ at, rssMiB: m.rssMiB, segments: s.length }),
      );
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu = process.cpuUsage(cpu0);
  const serverCpu = (await server.cpuSeconds()) - serverCpu0;
  const rate = tally.accepted / seconds;
  const acks = [...tally.ackMs].sort((a, b) => a - b);
  figures.add(
    "events/s overall",
    rate,
    "events/s",
    { kind: "min", value: 50_000 },
    `(${tally.accepted.toLocaleString("en-US")} events in ${seconds.toFixed(1)} s)`,
  );
  let last = t0;
  chunks.sort((a, b) => a.at - b.at);
  chunks.forEach((c, i) => {
    console.log(
      `    million ${String(i + 1).padStart(2)}: ${Math.round(CHUNK / ((c.at - last) / 1000)).toLocaleString("en-US")} events/s, server RSS ${c.rssMiB.toFixed(0)} MiB, live segments on disk ${c.segments}`,
    );
    last = c.at;
  });
  figures.add("ack p50 (1000-event batch)", percentile(acks, 0.5), "ms");
  figures.add("ack p99 (1000-event batch)", percentile(acks, 0.99), "ms");
  figures.add("WAL bytes per event at batch 1000", walBytes / tally.accepted, "B");
  figures.note(
    `request body ${(tally.bodyBytes / tally.accepted).toFixed(0)} B per event; ${tally.shed} requests shed with 503 (retried after Retry-After); ` +
      `${tally.rejected} rejected, ${tally.duplicates} duplicates, ${tally.conflicts} conflicts, ${tally.unpriced} unpriced`,
  );
  figures.note(
    `CPU: server ${((100 * serverCpu) / seconds).toFixed(0)}% of one core (2 = 200%, ${((serverCpu * 1e6) / tally.accepted).toFixed(0)} µs per event, compaction included), bench client ${((100 * (clientCpu.user + clientCpu.system)) / 1e6 / seconds).toFixed(0)}%`,
  );
  memoryFigures("during ingest", await rss.end(), limitMiB);
  return rate;
}

async function settle(server: ServerProcess, rss: RssWatch, limitMiB: number, what: string): Promise<void> {
  await rss.begin();
  const s = await server.settle(300_000);
  figures.note(
    `${what}: ${s.settled ? "settled" : "NOT settled"} after ${s.seconds.toFixed(0)} s (${s.segments} live segment(s) on disk, RSS ${s.rssMiB.toFixed(0)} MiB)`,
  );
  memoryFigures(`while settling (${what})`, await rss.end(), limitMiB);
  figures.add(`RSS idle ${what}`, s.rssMiB, "MiB", { kind: "max", value: limitMiB + NODE_MARGIN_MIB });
}

const QUERIES: ReadonlyArray<{ name: string; idleGoalMs: number; spec: () => Record<string, unknown> }> = [
  {
    name: "cost by day × user_id",
    idleGoalMs: 400,
    spec: () => ({ metrics: ["cost_usd", "requests"], group_by: ["user_id"], grain: "day" }),
  },
  {
    name: "p50/p99/max cost per agent run by feature",
    idleGoalMs: 400,
    spec: () => ({
      metrics: ["cost_usd"],
      group_by: ["feature"],
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "p99", "max"] },
    }),
  },
  { name: "cost by tag.queue", idleGoalMs: 400, spec: () => ({ metrics: ["cost_usd", "requests"], group_by: ["tag.queue"] }) },
  {
    name: "last 7 days by model",
    idleGoalMs: 400,
    spec: () => ({
      metrics: ["cost_usd", "requests", "total_tokens"],
      group_by: ["model"],
      from: new Date(Date.now() - 7 * 86_400_000).toISOString(),
    }),
  },
  {
    name: "one project's last 30 days by feature",
    idleGoalMs: 50,
    spec: () => ({
      metrics: ["cost_usd", "requests"],
      group_by: ["feature"],
      filters: [{ column: "project", op: "eq", value: "support-bot" }],
    }),
  },
];

async function queries(target: Target, busy: boolean): Promise<void> {
  for (const q of QUERIES) {
    const t = await timeQuery(target, q.spec(), RUNS);
    figures.add(
      q.name,
      t.medianMs,
      "ms",
      { kind: "max", value: busy ? 800 : q.idleGoalMs },
      `(median of ${t.runs}, max ${t.maxMs.toFixed(0)} ms, ${t.rows} rows, ${(t.bytes / 1024).toFixed(0)} KiB)`,
    );
  }
}

/** Queries while a paced client ingests live traffic at `rate` events/s. */
async function queriesWhileIngesting(server: ServerProcess, target: Target, rate: number, rss: RssWatch, limitMiB: number, ledger: string) {
  figures.heading(
    `${ledger} ledger: queries over HTTP while ingest runs at ~${Math.round(rate).toLocaleString("en-US")} events/s (half the sustained rate)`,
    `${ledger} queries while ingesting`,
  );
  const pacer = new PacedIngest(
    target,
    new BatchSource(realisticEvents({ seed: SEED + 1, events: 1e9, clock: "live", idPrefix: `p${ledger}` }), 1000),
    rate,
    1000,
  );
  await rss.begin();
  pacer.start();
  await sleep(3000);
  await queries(target, true);
  const t = performance.now();
  await Promise.all(QUERIES.map((q) => timeQuery(target, q.spec(), 1)));
  figures.note(`all five queries at once (one warm-up and one timed run each): ${((performance.now() - t) / 1000).toFixed(2)} s`);
  const paced = await pacer.stop();
  const acks = [...pacer.tally.ackMs].sort((a, b) => a - b);
  figures.note(
    `the paced client ingested ${Math.round(paced.eventsPerSecond).toLocaleString("en-US")} events/s over ${paced.seconds.toFixed(0)} s, ack p50 ${percentile(acks, 0.5).toFixed(0)} ms, p99 ${percentile(acks, 0.99).toFixed(0)} ms, ${pacer.tally.shed} shed`,
  );
  memoryFigures("during queries and ingest", await rss.end(), limitMiB);
  await settle(server, rss, limitMiB, "after queries");
}

/** Batch 1, 100 and 500 from wrk (or node:http without it), and WAL bytes per event at batch 1. */
async function smallBatches(server: ServerProcess, target: Target, rss: RssWatch, limitMiB: number, ledger: string): Promise<void> {
  figures.heading(
    `${ledger} ledger: small batches, live traffic, ${PHASE_S} s per phase, client: ${HAVE_WRK ? "wrk" : "node:http (install wrk)"}`,
    `${ledger} small batches`,
  );
  if (!HAVE_WRK) {
    figures.note("wrk is not installed: the small-batch phases need it (a Node client caps these figures on two cores); skipped");
    return;
  }
  const pool = join(server.dataDir, "..", `ct-bench-pool-${process.pid}.ndjson`);
  const lines: string[] = [];
  for (const e of realisticEvents({ seed: SEED + 2, events: 50_000, clock: "live", idPrefix: "pool" })) {
    const { id: _id, ...rest } = e;
    lines.push(JSON.stringify(rest).slice(1));
  }
  await writeFile(pool, `${lines.join("\n")}\n`);
  await rss.begin();
  let phase = 0;
  const wrk = (batch: number, connections: number, seconds: number) =>
    runWrk(target, { batch, connections, seconds, pool, idPrefix: `w${ledger}_${phase++}_`, script: WRK_SCRIPT });
  try {
    await wrk(1, 32, 2);
    const one = await walGrowth(server, wrk(1, 32, PHASE_S));
    figures.add("batch 1 × 32 connections", one.result.eventsPerSecond, "events/s", { kind: "min", value: 5_000 }, wrkNote(one.result));
    const walOne = one.bytes / one.result.requests;
    figures.add("WAL bytes per event at batch 1", walOne, "B");
    await wrk(100, 8, 2);
    const hundred = await wrk(100, 8, PHASE_S);
    figures.add("batch 100 × 8 connections", hundred.eventsPerSecond, "events/s", undefined, wrkNote(hundred));
    const single = await wrk(500, 1, PHASE_S);
    figures.add("batch 500 × 1 connection, ack p99", single.p99Ms, "ms", { kind: "max", value: 35 }, wrkNote(single));
    const four = await wrk(500, 4, PHASE_S);
    figures.add("batch 500 × 4 connections, ack p99", four.p99Ms, "ms", undefined, wrkNote(four));
    const thousand = await walGrowth(server, wrk(1000, 4, PHASE_S));
    figures.add("batch 1000 × 4 connections (wrk)", thousand.result.eventsPerSecond, "events/s", undefined, wrkNote(thousand.result));
    const walThousand = thousand.bytes / (thousand.result.requests * 1000);
    figures.add("WAL bytes per event at batch 1000 (this phase)", walThousand, "B");
    figures.add("WAL per event, batch 1 ÷ batch 1000", walOne / walThousand, "×", { kind: "max", value: 2 }, "", 2);
  } finally {
    await rm(pool, { force: true });
  }
  memoryFigures("during small-batch phases", await rss.end(), limitMiB);
}

function wrkNote(r: { eventsPerSecond: number; p50Ms: number; p99Ms: number; requests: number; non2xx: number }): string {
  return `(${Math.round(r.eventsPerSecond).toLocaleString("en-US")} events/s, ack p50 ${r.p50Ms.toFixed(1)} ms p99 ${r.p99Ms.toFixed(1)} ms, ${r.requests} requests, ${r.non2xx} not 2xx)`;
}

async function diskFigures(server: ServerProcess, target: Target, what: string): Promise<void> {
  const events = await countEvents(target);
  const disk = await server.disk();
  figures.add(`main file bytes per event ${what}`, disk.mainBytes / events, "B");
  figures.add(
    `disk bytes per event ${what}`,
    disk.totalBytes / events,
    "B",
    undefined,
    `(${events.toLocaleString("en-US")} events, all files)`,
  );
  figures.note(`files: ${disk.files.map((f) => `${f.name} ${(f.bytes / MiB).toFixed(1)} MiB`).join(", ")}`);
}

function label(n: number): string {
  return n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n.toLocaleString("en-US");
}

/** One ledger, one server: ingest a month, settle, query idle and busy, then optionally the small batches. */
async function ledgerRun(events: number, withSmallBatches: boolean, memory: { config: string | null; limitMiB: number }): Promise<void> {
  const server = await ServerProcess.start(ADMIN_KEY, memory.config);
  const target = new Target(server.url, ADMIN_KEY);
  const rss = new RssWatch(server);
  const ledger = label(events);
  try {
    console.log(`\nserver pid ${server.pid}, ${server.url}, data in ${server.dataDir}`);
    const rate = await sustainedIngest(server, target, events, rss, memory.limitMiB);
    figures.heading(`${ledger} ledger: idle after ingest`, `${ledger} idle`);
    await settle(server, rss, memory.limitMiB, "after ingest");
    await diskFigures(server, target, "after compaction");
    figures.heading(`${ledger} ledger: queries over HTTP, idle`, `${ledger} queries idle`);
    await rss.begin();
    await queries(target, false);
    memoryFigures("during idle queries", await rss.end(), memory.limitMiB);
    await queriesWhileIngesting(server, target, rate / 2, rss, memory.limitMiB, ledger);
    if (withSmallBatches) {
      await smallBatches(server, target, rss, memory.limitMiB, ledger);
      figures.heading(`${ledger} ledger: idle at the end`, `${ledger} end`);
      await settle(server, rss, memory.limitMiB, "after the small batches");
      await diskFigures(server, target, "at the end (the current live segment and its WAL included)");
    }
    figures.heading(`${ledger} ledger: re-pricing every event (POST /v1/reprice), then rollups at current pricing`, `${ledger} reprice`);
    await rss.begin();
    await repricePhase(server, target, figures, RUNS);
    memoryFigures("while re-pricing", await rss.end(), memory.limitMiB);
    await diskFigures(server, target, "after re-pricing (event_prices included)");
  } finally {
    rss.stop();
    target.close();
    await server.stop(KEEP);
  }
}

const watchdog = setTimeout(() => {
  console.error(`\nbench: stopped after ${TIMEOUT_MIN} minutes (BENCH_TIMEOUT_MINUTES)`);
  killAllWrk();
  killAllServers();
  process.exit(2);
}, TIMEOUT_MIN * 60_000);
process.on("exit", () => {
  killAllWrk();
  killAllServers();
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

try {
  const memory = await memoryLimitConfig();
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "../core/src", "../server/src", "../cli/src"], {
    encoding: "utf8",
  }).stdout.trim();
  console.log(
    `costtrail realistic bench — ${new Date().toISOString()}, commit ${commit || "?"}${dirty ? " with uncommitted source changes" : ""}, node ${process.version}, ` +
      `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB\n` +
      `${QUICK ? "quick run (BENCH_QUICK=1): the 1M ledger only" : `full run: a 1M ledger, then a ${label(EVENTS)} ledger`}; ` +
      `seed ${SEED}; traffic: 5,000 users, 50 customers, 6 projects, 12 features, agent runs of 1–40 calls and 3 runaways, raw provider usage, 3 tags; ` +
      `month events end ${new Date(monthEnd).toISOString()}\n` +
      `server.memory_limit: ${memory.config ? `${memory.limitMiB.toFixed(0)} MiB (passed in costtrail.yaml)` : "not a setting of this build; goal assumes 1 GiB"}; ` +
      `RSS goal: limit + ${NODE_MARGIN_MIB} MiB for Node`,
  );
  await ledgerRun(SMALL, QUICK, memory);
  if (!QUICK) await ledgerRun(EVENTS, true, memory);
  figures.printSummary();
} catch (e) {
  console.error(`\nbench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  killAllWrk();
  killAllServers();
}
