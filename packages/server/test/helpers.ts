import { gzipSync } from "node:zlib";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import { type PreparedEvent, prepareEvent } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import { type AppOptions, buildApp } from "../src/app.js";
import { type ApiKeyRecord, KeyRing, generateApiKey, hashApiKey } from "../src/auth/api-keys.js";
import { type Scope, parseConfig } from "../src/config/load-config.js";
import { DuckDBDriver, type DuckDBDriverOptions } from "../src/store/duckdb/driver.js";
import { hourlyRowsSql, runRowsSql } from "../src/store/duckdb/hourly.js";
import { Ledger } from "../src/store/ledger.js";

export interface TestKeys {
  admin: string;
  ingest: string;
  ingestA: string;
  readAll: string;
  readA: string;
  readNone: string;
}

export interface TestApp {
  app: FastifyInstance;
  store: TestLedger;
  keys: TestKeys;
  ring: KeyRing;
  close(): Promise<void>;
}

function record(name: string, key: string, scopes: Scope[], projects: string[] | null): ApiKeyRecord {
  return { id: `test:${name}`, name, hash: hashApiKey(key), scopes: new Set(scopes), projects, source: "config" };
}

/** A ledger on the DuckDB driver in this thread, with the driver's compaction hooks at hand. */
export type TestLedger = Ledger & {
  readonly driver: DuckDBDriver;
  settle(): Promise<void>;
  layout(): { current: number; sealed: number[]; mainAttachments: number };
};

export async function openTestLedger(options: DuckDBDriverOptions): Promise<TestLedger> {
  const driver = await DuckDBDriver.open(options);
  return Object.assign(new Ledger(driver), { driver, settle: () => driver.settle(), layout: () => driver.layout() });
}

/**
 * For tests that write events into the main file by SQL, as only a compaction does: its
 * hourly sums made again from those events, as the compaction's transaction would.
 */
export async function rebuildHourly(driver: DuckDBDriver): Promise<void> {
  await driver.execute({ sql: "DELETE FROM hourly", params: [] });
  await driver.execute({
    sql: `INSERT INTO hourly BY NAME SELECT *, CAST(0 AS BIGINT) AS unit FROM (${hourlyRowsSql("events", new Set())})`,
    params: [],
  });
  await driver.execute({ sql: "DELETE FROM run_hours", params: [] });
  await driver.execute({
    sql: `INSERT INTO run_hours BY NAME SELECT *, CAST(0 AS BIGINT) AS unit FROM (${runRowsSql("events")})`,
    params: [],
  });
}

/** A real app on an in-memory DuckDB ledger with one key per role, driven through inject. */
export async function makeApp(
  configYaml = "",
  store_: Partial<DuckDBDriverOptions> = {},
  appOptions: Partial<Pick<AppOptions, "webRoot" | "sessions">> = {},
): Promise<TestApp> {
  const config = parseConfig(configYaml, "test.yaml");
  const store = await openTestLedger({ path: ":memory:", maxPendingRows: config.server.max_pending_events, ...store_ });
  const rateCard = await loadDefaultRateCard(config.pricing);
  const keys: TestKeys = {
    admin: generateApiKey(),
    ingest: generateApiKey(),
    ingestA: generateApiKey(),
    readAll: generateApiKey(),
    readA: generateApiKey(),
    readNone: generateApiKey(),
  };
  const ring = new KeyRing();
  ring.replace([
    record("admin", keys.admin, ["admin"], null),
    record("ingest", keys.ingest, ["ingest"], null),
    record("ingest-a", keys.ingestA, ["ingest"], ["proj-a"]),
    record("read-all", keys.readAll, ["read"], null),
    record("read-a", keys.readA, ["read"], ["proj-a"]),
    record("read-none", keys.readNone, ["read"], ["proj-empty"]),
  ]);
  const app = await buildApp({ store, rateCard: () => rateCard, keys: ring, config: () => config, ...appOptions });
  return {
    app,
    store,
    keys,
    ring,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

export function auth(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

let counter = 0;
/** A valid wire event (DESIGN.md's example) with overrides. */
export function wireEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  counter++;
  return {
    id: `evt_${counter}_${Math.random().toString(36).slice(2, 8)}`,
    timestamp: "2026-11-20T10:00:00.123Z",
    project: "proj-a",
    environment: "prod",
    provider: "openai",
    model: "gpt-4o-2024-08-06",
    api: "openai.chat",
    raw_usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } },
    user_id: "u_42",
    customer_id: "acme",
    feature: "draft-reply",
    agent_run_id: "run_9",
    prompt_version: "v7",
    tags: { queue: "billing" },
    status: "ok",
    latency_ms: 812,
    ...over,
  };
}

export async function ingest(t: TestApp, events: unknown[], key = t.keys.ingest) {
  return t.app.inject({
    method: "POST",
    url: "/v1/events",
    headers: { ...auth(key), "content-type": "application/json" },
    payload: JSON.stringify(events),
  });
}

export function gzip(text: string): Buffer {
  return gzipSync(Buffer.from(text));
}

/** Prepared events, as the collector makes them from wire events. */
export async function preparedEvents(wire: ReadonlyArray<Record<string, unknown>>): Promise<PreparedEvent[]> {
  const card = await loadDefaultRateCard();
  return wire.map((w) => {
    const r = prepareEvent(w, card);
    if (!r.ok) throw new Error(`bad fixture: ${JSON.stringify(r.issues)}`);
    return r.value;
  });
}

/** n fresh events as the collector hands them to the store. */
export async function ledgerRows(n: number): Promise<PreparedEvent[]> {
  return preparedEvents(Array.from({ length: n }, () => wireEvent()));
}

/** A small seeded generator, so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rollup of requests by project over all time, as the API would hand it to the store. */
export const REQUESTS_BY_PROJECT = {
  metrics: ["requests"],
  group_by: ["project"],
  filters: [],
  from: 0,
  to: 8.64e15,
  grain: null,
  time_zone: "UTC",
  order_by: [],
  limit: null,
  other: false,
  distribution: null,
} as const;

export const RANGE = { from: "2026-11-01T00:00:00Z", to: "2026-12-01T00:00:00Z" };
