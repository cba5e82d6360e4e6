/**
 * Latency of standard rollups at 1M and 10M events on the embedded DuckDB ledger.
 * Prints figures beside the goals; asserts nothing.
 * Run: npm run bench -w packages/server   (BENCH_SIZES=1000000 to skip 10M)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type QuerySpec, validateQuery } from "@costtrail/core";
import { DuckDBInstance } from "@duckdb/node-api";
import { DuckDBDriver } from "../src/store/duckdb/driver.js";
import { Ledger } from "../src/store/ledger.js";
import { EVENTS_TABLE_SQL, SCHEMA_SQL } from "../src/store/duckdb/schema.js";
import { SEAL_ROWS } from "../src/store/duckdb/segments.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000000,10000000").split(",").map(Number);
const RUNS = 7;
const NOW = Date.parse("2026-11-23T00:00:00Z");
const DAY = 86_400_000;

/**
 * Fills a ledger with n synthetic events over 30 days, generated inside DuckDB (seconds, not
 * minutes). They land as ingest leaves them: in arrival order, in live segments of SEAL_ROWS
 * events each, which the store then compacts into its main file when it opens.
 */
export async function fill(path: string, n: number): Promise<void> {
  const inst = await DuckDBInstance.create(path);
  const c = await inst.connect();
  await c.run("SET GLOBAL TimeZone = 'UTC'");
  for (const sql of SCHEMA_SQL) await c.run(sql);
  const start = NOW - 30 * DAY;
  for (let from = 0, segment = 1; from < n; from += SEAL_ROWS, segment++) {
    const to = Math.min(n, from + SEAL_ROWS);
    await c.run(`ATTACH '${path}.live-${segment}' AS seg`);
    await c.run(EVENTS_TABLE_SQL("seg.main.events"));
    // Rows arrive in time order, as a live ledger's do.
    await c.run(`INSERT INTO seg.main.events (id, ts, received_at, project, environment, team, user_id, customer_id, feature, agent_run_id, provider, model, api,
        input_tokens, cache_read_tokens, output_tokens, cost_usd, computed_cost_usd, cost_source, price_status, status, latency_ms, tags)
      SELECT 'e' || i, epoch_ms(CAST(${start} + i * ${(30 * DAY) / n} AS BIGINT)), epoch_ms(CAST(${start} + i * ${(30 * DAY) / n} AS BIGINT)),
        'proj' || (hash(i) % 20), CASE WHEN hash(i * 3) % 10 = 0 THEN 'staging' ELSE 'prod' END, 'team' || (hash(i * 5) % 6),
        'u' || (hash(i * 7) % 500), 'c' || (hash(i * 11) % 200), 'f' || (hash(i * 13) % 12),
        CASE WHEN hash(i * 17) % 4 = 0 THEN 'run' || (i // 8) END,
        ['openai', 'anthropic', 'google', 'bedrock'][CAST(1 + hash(i * 19) % 4 AS BIGINT)], 'model' || (hash(i * 23) % 10), 'openai.chat',
        100 + hash(i * 29) % 5000, hash(i * 31) % 2000, 10 + hash(i * 37) % 800,
        CAST((hash(i * 41) % 100000) AS DECIMAL(38,18)) / 10000000, NULL, 'computed', 'priced', 'ok', 100 + hash(i * 43) % 3000,
        MAP {'queue': 'q' || (hash(i * 47) % 5)}
      FROM range(${from}, ${to}) t(i)`);
    await c.run("DETACH seg");
  }
  c.closeSync();
  inst.closeSync();
}

function spec(body: Record<string, unknown>): QuerySpec {
  const r = validateQuery({ from: new Date(NOW - 30 * DAY).toISOString(), to: new Date(NOW + DAY).toISOString(), ...body }, NOW);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

const ROLLUPS: Array<{ name: string; goal: string; goalMs: number; spec: QuerySpec; scope: { projects: string[] | null } }> = [
  {
    name: "cost by day × user (whole ledger)",
    goal: "≤ 400 ms at 10M",
    goalMs: 400,
    spec: spec({ metrics: ["cost_usd", "requests"], group_by: ["user_id"], grain: "day" }),
    scope: { projects: null },
  },
  {
    name: "p99 cost per agent run by feature",
    goal: "≤ 400 ms at 10M",
    goalMs: 400,
    spec: spec({
      metrics: [],
      group_by: ["feature"],
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "p99", "max"] },
    }),
    scope: { projects: null },
  },
  {
    name: "cost by model, last 7 days",
    goal: "≤ 400 ms at 10M",
    goalMs: 400,
    spec: spec({ metrics: ["cost_usd", "requests"], group_by: ["model"], from: new Date(NOW - 7 * DAY).toISOString() }),
    scope: { projects: null },
  },
  {
    name: "one project's last 30 days by feature",
    goal: "≤ 50 ms at 10M",
    goalMs: 50,
    spec: spec({ metrics: ["cost_usd", "requests"], group_by: ["feature"] }),
    scope: { projects: ["proj7"] },
  },
];

console.log(`costtrail rollup bench — DuckDB ledger, node ${process.version}, ${RUNS} runs each (first is cold)\n`);
for (const n of SIZES.filter((x) => x > 0)) {
  const dir = await mkdtemp(join(tmpdir(), "ct-bench-"));
  const path = join(dir, "ledger.duckdb");
  const t0 = performance.now();
  await fill(path, n);
  console.log(`${n.toLocaleString("en-US")} events generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = performance.now();
  const driver = await DuckDBDriver.open({ path });
  await driver.settle();
  const store = new Ledger(driver);
  const compactS = (performance.now() - t1) / 1000;
  console.log(
    `  compacted into the main file, sorted by (project, time) per ${SEAL_ROWS.toLocaleString("en-US")}-event segment, in ${compactS.toFixed(1)} s (${Math.round(n / compactS).toLocaleString("en-US")} events/s)`,
  );
  for (const r of ROLLUPS) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      rows = (await store.query(r.spec, r.scope)).length;
      times.push(performance.now() - t);
    }
    const warm = times.slice(1).sort((a, b) => a - b);
    const median = warm[Math.floor(warm.length / 2)] as number;
    const ratio = median / r.goalMs;
    console.log(
      `  ${r.name.padEnd(40)} cold ${times[0]?.toFixed(0).padStart(5)} ms  warm median ${median.toFixed(0).padStart(5)} ms  max ${(warm.at(-1) as number).toFixed(0).padStart(5)} ms  ` +
        `(${rows} rows; goal ${r.goal}: ${ratio.toFixed(2)}× goal${n >= 10_000_000 ? "" : ", informational below 10M"})`,
    );
  }
  const mem = process.memoryUsage();
  console.log(`  process RSS after queries: ${(mem.rss / 2 ** 20).toFixed(0)} MiB\n`);
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
