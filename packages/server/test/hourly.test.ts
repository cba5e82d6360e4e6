import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type QuerySpec, validateQuery } from "@costtrail/core";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterEach, describe, expect, it } from "vitest";
import type { LedgerDialect } from "../src/store/ledger-driver.js";
import { Ledger } from "../src/store/ledger.js";
import { duckdbDialect } from "../src/store/duckdb/dialect.js";
import type { DuckDBDriver } from "../src/store/duckdb/driver.js";
import { hourlyPlan, rollup, rollupJson, rollupStatement } from "../src/store/duckdb/rollup-sql.js";
import { type TestApp, type TestLedger, auth, makeApp, openTestLedger, preparedEvents, prng, wireEvent } from "./helpers.js";

/**
 * The hourly table (store/duckdb/hourly.ts) is only a faster route to the same answer: every
 * rollup it can serve must come out exactly as the events give it, and the rows DuckDB shapes
 * for the API exactly as the ledger's own shaping does.
 */

let store: TestLedger | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

const START = Date.parse("2026-10-20T00:00:00Z");
// Three weeks across Berlin's (Oct 25) and New York's (Nov 1) change of offset.
const SPAN = 21 * 86_400_000;
const MODELS = ["gpt-4o-2024-08-06", "gpt-4o-mini", "o3-mini", "made-up-model"];
const QUEUES = ["billing", "search", 'it\'s "quoted"'];

function events(rand: () => number, n: number, prefix: string): Record<string, unknown>[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const tags: Record<string, string> = {};
    if (rand() < 0.7) tags.queue = pick(QUEUES);
    if (rand() < 0.4) tags.region = pick(["eu", "us"]);
    return wireEvent({
      id: `${prefix}${i}`,
      timestamp: new Date(START + Math.floor(rand() * SPAN)).toISOString(),
      project: pick(["proj-a", "proj-b", "proj-c"]),
      user_id: rand() < 0.1 ? undefined : `u${Math.floor(rand() * 40)}`,
      customer_id: pick(["acme", "globex", "initech"]),
      agent_run_id: rand() < 0.15 ? undefined : `run_${Math.floor(rand() * 300)}`,
      feature: pick(["search", "draft", "triage", "summarise"]),
      model: pick(MODELS),
      status: rand() < 0.1 ? "error" : "ok",
      raw_usage: { prompt_tokens: 100 + Math.floor(rand() * 5000), completion_tokens: Math.floor(rand() * 900) },
      tags,
    });
  });
}

/** A random query spec that the API would accept; about half of them can use the hourly table. */
function randomSpec(rand: () => number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const dims = ["user_id", "feature", "model", "customer_id", "status", "price_status", "tag.queue", "tag.region", "environment"];
  const d = pick(dims);
  const d2 = pick(dims.filter((x) => x !== d));
  const allMetrics = [
    "cost_usd",
    "requests",
    "errors",
    "unpriced_requests",
    "total_tokens",
    "input_tokens",
    "cache_read_tokens",
    "output_tokens",
    "web_search_calls",
    "cost_per_request_usd",
    "error_rate",
  ];
  const metrics = allMetrics.filter(() => rand() < 0.3);
  if (metrics.length === 0) metrics.push(pick(["cost_usd", "requests"]));
  if (rand() < 0.08) metrics.push(pick(["latency_ms_p50", "unique_users"]));
  const groupBy = pick([[], ["project"], [d], [d], ["project", d], [d, "project"], [d, d2]]);
  const values: Record<string, string[]> = {
    project: ["proj-a", "proj-b"],
    "tag.queue": QUEUES,
    "tag.region": ["eu", "us"],
    model: MODELS,
    feature: ["search", "draft"],
    user_id: ["u1", "u2", "u3"],
    customer_id: ["acme"],
    status: ["error"],
    price_status: ["unpriced", "priced"],
    environment: ["prod"],
  };
  const filters = Array.from({ length: Math.floor(rand() * 3) }, () => {
    const column = pick(["project", d, d, d2]);
    const op = pick(["eq", "not", "in", "not_in", "prefix", "exists", "not_exists"]);
    const pool = values[column] ?? ["x"];
    const value = op === "in" || op === "not_in" ? pool.slice(0, 1 + Math.floor(rand() * pool.length)) : pick(pool);
    return op === "exists" || op === "not_exists" ? { column, op } : { column, op, value: op === "prefix" ? value.slice(0, 3) : value };
  });
  const minute = () => Math.floor(rand() * 1440) * 60_000 + (rand() < 0.5 ? Math.floor(rand() * 60_000) : 0);
  const a = START - 86_400_000 + Math.floor(rand() * 10) * 86_400_000 + minute();
  const b = rand() < 0.2 ? START + SPAN + 86_400_000 : a + 3_600_000 * (1 + Math.floor(rand() * 400)) + minute();
  const spec: Record<string, unknown> = {
    metrics,
    group_by: groupBy,
    filters,
    from: new Date(a).toISOString(),
    to: new Date(b).toISOString(),
    grain: pick([null, null, "hour", "day", "week", "month"]),
    time_zone: pick(["UTC", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/St_Johns"]),
  };
  if (rand() < 0.3) {
    spec.limit = 1 + Math.floor(rand() * 4);
    spec.other = rand() < 0.6;
  }
  if (rand() < 0.3) spec.order_by = [{ metric: pick(metrics), desc: rand() < 0.5 }];
  if (rand() < 0.3) {
    // A distribution per agent run (or per user): additive metrics only, per not grouped by.
    const additive = new Set(["cost_usd", "requests", "errors", "unpriced_requests", "total_tokens", "input_tokens", "output_tokens"]);
    const kept = metrics.filter((m) => additive.has(m));
    spec.metrics = kept.length > 0 ? kept : ["requests"];
    const per = rand() < 0.8 ? "agent_run_id" : "user_id";
    spec.group_by = pick([[], ["feature"], ["project"], ["customer_id", "project"], [d]]).filter((g) => g !== per);
    const stats = ["p50", "p90", "p95", "p99", "max", "min", "mean", "count"].filter(() => rand() < 0.4);
    spec.distribution = { metric: pick(["cost_usd", "cost_usd", "requests", "total_tokens"]), per, stats: stats.length ? stats : ["p99"] };
    spec.order_by = undefined;
    if (rand() < 0.3) spec.filters = [...(spec.filters as object[]), { column: "agent_run_id", op: "prefix", value: "run_1" }];
  }
  return spec;
}

/** The same driver, but its dialect never reads the hourly table: the reference answer. */
function eventsOnly(driver: DuckDBDriver): Ledger {
  const dialect: LedgerDialect = {
    ...duckdbDialect,
    rollup: (spec, scope, run) => rollup(spec, scope, run, { useHourly: false }),
    rollupJson: (spec, scope, run) => rollupJson(spec, scope, run, { useHourly: false }),
  };
  return new Ledger(Object.create(driver, { dialect: { value: dialect } }) as DuckDBDriver);
}

/**
 * Short agent runs of 1–4 calls within one hour, their calls dealt at random into six batches
 * (the sixth stays live): most runs end up with one row in run_hours, some get a second row
 * from a later compaction, some have calls in the live segment too.
 */
function shortRuns(rand: () => number, runs: number, prefix: string): Record<string, unknown>[][] {
  const batches: Record<string, unknown>[][] = Array.from({ length: 6 }, () => []);
  for (let k = 0; k < runs; k++) {
    const hour = START + Math.floor(rand() * (SPAN / 3_600_000)) * 3_600_000;
    const calls = events(rand, 1 + Math.floor(rand() * 4), `${prefix}${k}_`);
    // A run's calls share its attribution, so its calls in different places meet in one group.
    const { project, user_id, customer_id, feature } = calls[0] as Record<string, unknown>;
    for (const call of calls) {
      const batch = batches[Math.min(5, Math.floor(rand() * 6.4))] as Record<string, unknown>[];
      const at = new Date(hour + Math.floor(rand() * 3_600_000)).toISOString();
      batch.push({ ...call, project, user_id, customer_id, feature, agent_run_id: `short_${k}`, timestamp: at });
    }
  }
  return batches;
}

async function ledgerWithHistory(seed: number): Promise<{ path: string }> {
  const path = join(await mkdtemp(join(tmpdir(), "ct-hourly-")), "ledger.duckdb");
  store = await openTestLedger({ path, segmentRows: 700 });
  const rand = prng(seed);
  const short = shortRuns(rand, 400, `s${seed}_`);
  // Compacted in several units (segments of 700), then the rest left in the live segment.
  for (let b = 0; b < 5; b++) await store.append(await preparedEvents([...events(rand, 500, `h${seed}_${b}_`), ...(short[b] ?? [])]));
  await store.settle();
  await store.append(await preparedEvents([...events(rand, 150, `live${seed}_`), ...(short[5] ?? [])]));
  expect(store.layout().sealed).toEqual([]);
  return { path };
}

/** A ledger with history, closed, changed by `statements` as an older release would have left it, and opened again. */
async function asOlderRelease(seed: number, statements: readonly string[]): Promise<TestLedger> {
  const { path } = await ledgerWithHistory(seed);
  await (store as TestLedger).close();
  store = null;
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  for (const sql of statements) await c.run(sql);
  c.closeSync();
  db.closeSync();
  return openTestLedger({ path, segmentRows: 700 });
}

/** Rows of run_hours whose `whole` is not "the only row of its run" (none, when it is kept right). */
const WRONG_WHOLE_SQL = `SELECT count(*) FROM run_hours r
  WHERE r.whole IS DISTINCT FROM ((SELECT count(*) FROM run_hours o WHERE o.agent_run_id = r.agent_run_id) = 1)`;

function spec(wire: unknown): QuerySpec {
  const r = validateQuery(wire, START + SPAN);
  if (!r.ok) throw new Error(`invalid spec ${JSON.stringify(wire)}: ${JSON.stringify(r.issues)}`);
  return r.value;
}

describe("a total over no events", () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it("has a null error rate, not a failure", async () => {
    t = await makeApp();
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["error_rate", "requests", "cost_usd"], from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z" },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.json()).toEqual({ rows: [{ error_rate: null, requests: 0, cost_usd: null }] });
  });
});

describe("rollups from the hourly table", () => {
  it("answer 400 random rollups exactly as the events do, and DuckDB shapes their rows as the ledger does", async () => {
    await ledgerWithHistory(7);
    const s = store as TestLedger;
    const reference = eventsOnly(s.driver);
    const rand = prng(11);
    let hourly = 0;
    let runs = 0;
    let shapedInSql = 0;
    const scopes = [{ projects: null }, { projects: ["proj-b"] }, { projects: [] }];
    for (let i = 0; i < 400; i++) {
      const wire = randomSpec(rand);
      const q = spec(wire);
      const scope = scopes[i % 3] as { projects: string[] | null };
      const expected = await reference.query(q, scope);
      const label = `case ${i}: ${JSON.stringify(wire)} scope ${JSON.stringify(scope)}`;
      expect(await s.query(q, scope), label).toEqual(expected);
      expect(JSON.parse(await s.queryJson(q, scope)), label).toEqual(expected);
      expect(JSON.parse(await reference.queryJson(q, scope)), label).toEqual(expected);
      if (hourlyPlan(q)) hourly++;
      if (hourlyPlan(q)?.table === "run_hours") runs++;
      if ((await duckdbDialect.rollupJson(q, scope, async () => [{ j: "[]", stale: false, overflow: 0 }])) !== null) shapedInSql++;
    }
    // Enough of both routes were compared for the test to mean something.
    expect(hourly).toBeGreaterThan(120);
    expect(runs).toBeGreaterThan(25);
    expect(shapedInSql).toBeGreaterThan(200);
  }, 180_000);

  it("count tag keys as the events do, over whole hours, partial hours and live segments, within a key's projects", async () => {
    await ledgerWithHistory(5);
    const s = store as TestLedger;
    expect(s.layout().sealed).toEqual([]);
    // A range that starts and ends inside hours, so all three sources count.
    const from = START + 3 * 86_400_000 + 1_234_567;
    const to = START + SPAN - 2_345_678;
    for (const scope of [{ projects: null }, { projects: ["proj-b"] }]) {
      const p = scope.projects === null ? "" : " AND project IN ('proj-b')";
      const expected = await s.driver.all({
        sql: `SELECT k AS key, count(*) AS events FROM (SELECT unnest(map_keys(tags)) AS k FROM events
          WHERE ts >= epoch_ms(CAST(${from} AS BIGINT)) AND ts < epoch_ms(CAST(${to} AS BIGINT))${p}) GROUP BY k ORDER BY events DESC, key`,
        params: [],
      });
      expect(expected.length).toBeGreaterThan(1);
      expect(await s.tagKeys({ from, to, limit: 100 }, scope)).toEqual(
        expected.map((r) => ({ key: String(r.key), events: Number(r.events) })),
      );
    }
  });

  it("is written at compaction and holds the main file's events, per dimension and in total", async () => {
    const { path } = await ledgerWithHistory(3);
    await (store as TestLedger).close();
    store = null;
    const db = await DuckDBInstance.create(path);
    const c = await db.connect();
    const one = async (sql: string) => (await c.runAndReadAll(sql)).getRows()[0] as unknown[];
    // The main file's events: what was compacted (the last segments are still live).
    const [events] = await one("SELECT count(*) FROM events");
    expect(Number(events)).toBeGreaterThanOrEqual(2_000);
    const [total, feature, queue] = await one(
      "SELECT sum(requests) FILTER (WHERE dim = ''), sum(requests) FILTER (WHERE dim = 'feature'), sum(requests) FILTER (WHERE dim = 'tag.queue') FROM hourly",
    );
    expect(Number(total)).toBe(Number(events));
    expect(Number(feature)).toBe(Number(events));
    // Only the events that carry the tag.
    const [tagged] = await one("SELECT count(*) FROM events WHERE tags['queue'] IS NOT NULL");
    expect(Number(queue)).toBe(Number(tagged));
    expect(await one("SELECT count(DISTINCT unit) > 1 FROM hourly")).toEqual([true]);
    // And per agent run: every event that names its run, about a row per run and hour.
    const [inRuns, runRows] = await one("SELECT sum(requests), count(*) FROM run_hours");
    const [withRun, runHours] = await one(
      "SELECT count(*), count(DISTINCT (agent_run_id, date_trunc('hour', ts))) FROM events WHERE agent_run_id IS NOT NULL",
    );
    expect(Number(inRuns)).toBe(Number(withRun));
    expect(Number(runRows)).toBeGreaterThanOrEqual(Number(runHours));
    // `whole` marks exactly the runs with one row: not those a later compaction added a row to.
    expect(await one(WRONG_WHOLE_SQL)).toEqual([0n]);
    const [wholeRows, splitRuns] = await one(
      "SELECT count(*) FILTER (WHERE whole), count(DISTINCT agent_run_id) FILTER (WHERE NOT whole AND agent_run_id LIKE 'short%') FROM run_hours",
    );
    expect(Number(wholeRows)).toBeGreaterThan(50);
    expect(Number(splitRuns)).toBeGreaterThan(50);
    c.closeSync();
    db.closeSync();
  });

  it("sets `whole` once at start on run rows from before it, and distributions per run agree with the events after", async () => {
    // What an older release leaves: run rows without the flag, no marker.
    store = await asOlderRelease(4, ["ALTER TABLE run_hours DROP COLUMN whole", "DELETE FROM meta WHERE key = 'run-hours-whole:v1'"]);
    const [check] = await store.driver.all({
      sql: `SELECT (${WRONG_WHOLE_SQL}) AS wrong, (SELECT count(*) FROM run_hours WHERE whole) AS whole`,
      params: [],
    });
    expect(Number(check?.wrong)).toBe(0);
    expect(Number(check?.whole)).toBeGreaterThan(50);
    const reference = eventsOnly(store.driver);
    for (const stats of [
      ["p50", "p99", "max", "count"],
      ["mean", "min"],
    ]) {
      const q = spec({
        metrics: ["cost_usd", "requests", "total_tokens"],
        group_by: ["feature"],
        distribution: { metric: "cost_usd", per: "agent_run_id", stats },
        from: "2026-10-01T00:00:00Z",
      });
      expect(hourlyPlan(q)?.table).toBe("run_hours");
      expect(await store.query(q, { projects: null })).toEqual(await reference.query(q, { projects: null }));
    }
  });

  it("is built at start for a ledger made before it existed, and rollups agree with the events after", async () => {
    // What an older release leaves: events, no hourly sums, no marker.
    store = await asOlderRelease(5, ["DROP TABLE hourly", "DELETE FROM meta WHERE key LIKE 'hourly%'"]);
    const reference = eventsOnly(store.driver);
    const q = spec({
      metrics: ["cost_usd", "requests", "total_tokens"],
      group_by: ["tag.queue"],
      grain: "day",
      from: "2026-10-01T00:00:00Z",
    });
    expect(hourlyPlan(q)).not.toBeNull();
    // Answered from the hourly table, not from the events after finding it stale.
    const [direct] = await store.driver.all(
      rollupStatement(q, { projects: null }, { residuals: true, narrowRunCost: false, hourly: hourlyPlan(q), api: false }),
    );
    expect(direct?.stale).toBe(false);
    const rows = await store.query(q, { projects: null });
    expect(rows.length).toBeGreaterThan(20);
    expect(rows).toEqual(await reference.query(q, { projects: null }));
  });

  it("drops a dimension whose hourly values are nearly as many as its events, and answers rollups by it from the events", {
    timeout: 120_000,
  }, async () => {
    const path = join(await mkdtemp(join(tmpdir(), "ct-hourly-")), "ledger.duckdb");
    store = await openTestLedger({ path, segmentRows: 120_000 });
    const rand = prng(9);
    // 120,000 events in one hour, with a tag that holds a request id: one value per event.
    const wire = events(rand, 120_000, "req_").map((e, i) => ({
      ...e,
      timestamp: new Date(START + (i % 3_600_000)).toISOString(),
      agent_run_id: undefined,
      tags: { ...(e.tags as object), request: `r${i}` },
    }));
    for (let b = 0; b < wire.length; b += 20_000) await store.append(await preparedEvents(wire.slice(b, b + 20_000)));
    await store.settle();
    const meta = await store.driver.all({ sql: "SELECT key FROM meta WHERE key LIKE 'hourly-dropped:%'", params: [] });
    expect(meta.map((r) => r.key)).toEqual(["hourly-dropped:tag.request"]);
    const left = await store.driver.all({ sql: "SELECT count(*) AS n FROM hourly WHERE dim = 'tag.request'", params: [] });
    expect(Number(left[0]?.n)).toBe(0);
    const reference = eventsOnly(store.driver);
    const q = spec({ metrics: ["requests"], group_by: ["tag.request"], limit: 3, other: true, from: "2026-10-01T00:00:00Z" });
    const rows = await store.query(q, { projects: null });
    expect(rows).toEqual(await reference.query(q, { projects: null }));
    expect(rows.at(-1)).toEqual({ "tag.request": "(other)", requests: 119_997 });
    // Other dimensions are still rolled up.
    const kept = await store.driver.all({ sql: "SELECT count(*) AS n FROM hourly WHERE dim = 'tag.queue'", params: [] });
    expect(Number(kept[0]?.n)).toBeGreaterThan(0);
  });
});
