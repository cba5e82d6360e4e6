import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { Writable } from "node:stream";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.js";
import { KeyRing, generateApiKey, hashApiKey } from "../src/auth/api-keys.js";
import { parseConfig } from "../src/config/load-config.js";
import { RANGE, type TestApp, auth, ingest, makeApp, openTestLedger, prng, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

/** Text that would mean an answer leaked the store's internals. */
const INTERNALS =
  /SELECT |FROM events|epoch_ms|duckdb|Binder Error|Catalog Error|Conversion Error|Parser Error|HUGEINT|INTERNAL Error|\$\d/i;

const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 63,
  0.5,
  "",
  " ",
  "x".repeat(5000),
  "'; DROP TABLE events; --",
  '"quoted"',
  "tag.",
  "tag.'",
  "tag.a'b",
  "feature",
  "cost_usd",
  "p99",
  "day",
  "Mars/Olympus",
  "Europe/Berlin",
  "2026-11-20T10:00:00Z",
  "9999-12-31T23:59:59Z",
  "0001-01-01T00:00:00Z",
  "-271821-04-20T00:00:00Z",
  [],
  [null],
  ["feature", "feature"],
  { op: "eq" },
  { column: "tag.x", op: "in", value: [] },
  { column: "feature", op: "in", value: Array.from({ length: 2000 }, (_, i) => `v${i}`) },
  { column: "feature", op: "prefix", value: "%_\\" },
  { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "mean"] },
  { metric: "latency_ms_p50", per: "tag.x", stats: ["nope"] },
  { metric: "cost_usd", desc: "yes" },
  { column: "tag.x" },
];

/** Sane values per query key, so that hostile ones are tried beside valid ones, not only alone. */
const SANE: Record<string, unknown[]> = {
  metrics: [["cost_usd"], ["requests", "latency_ms_p99", "cost_per_request_usd"], ["total_tokens", "unique_users"]],
  group_by: [["feature"], ["tag.x", "model"], ["tag.a'b"], ['tag."); DROP TABLE events; --']],
  grain: ["day", "hour", "month", null],
  time_zone: ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"],
  filters: [
    [{ column: "tag.x", op: "eq", value: "1" }],
    [{ column: "feature", op: "in", value: ["a", "' OR 1=1 --"] }],
    [{ column: "tag.q'", op: "prefix", value: "%" }],
  ],
  order_by: [[{ metric: "cost_usd", desc: true }], [{ column: "feature", desc: false }], [{ metric: "requests" }]],
  limit: [1, 10, null],
  other: [true, false],
  distribution: [{ metric: "cost_usd", per: "agent_run_id", stats: ["p50", "p99", "max", "mean"] }],
  from: ["2026-11-01T00:00:00Z", "2020-01-01T00:00:00Z"],
  to: ["2026-12-01T00:00:00Z"],
};
const QUERY_KEYS = [...Object.keys(SANE), "extra"];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)] as T;
}

/** A query spec with some keys sane and some hostile; wrapped in lists half the time. */
function hostileSpec(rand: () => number): Record<string, unknown> {
  const spec: Record<string, unknown> = { metrics: ["cost_usd", "requests"], ...RANGE };
  const n = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const key = pick(rand, QUERY_KEYS);
    if (rand() < 0.6 && SANE[key]) spec[key] = pick(rand, SANE[key]);
    else {
      const v = pick(rand, ODD_VALUES);
      spec[key] = rand() < 0.5 ? [v, pick(rand, ODD_VALUES)] : v;
    }
  }
  return spec;
}

function hostileCursor(rand: () => number): string {
  const shapes: unknown[] = [
    [1e308, "a"],
    [-9e15, "a"],
    [Number.MAX_SAFE_INTEGER, "a"],
    [1.5, "a"],
    ["1", "a"],
    [1, 5],
    [1, ""],
    [1, "a'b"],
    [1, "x".repeat(500)],
    [1, "a", "extra"],
    { ts: 1, id: "a" },
    null,
    "string",
  ];
  const roll = rand();
  if (roll < 0.6) return Buffer.from(JSON.stringify(pick(rand, shapes))).toString("base64url");
  if (roll < 0.8)
    return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))).toString("base64url");
  return encodeURIComponent(pick(rand, ["%%%", "a b", "====", "😀", "W1swLCJhIl1d", "../../etc/passwd"]));
}

describe("hostile reads", () => {
  it("answers a fuzzed query spec with a 200 or a 400, never a 500 or the store's text", async () => {
    t = await makeApp();
    expect((await ingest(t, [wireEvent(), wireEvent({ tags: { x: "1" } })])).statusCode).toBe(200);
    const rand = prng(8);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const spec = hostileSpec(rand);
      const r = await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(t.keys.readAll), payload: spec });
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
      if (r.statusCode >= 500 || INTERNALS.test(r.body))
        throw new Error(`spec ${JSON.stringify(spec).slice(0, 400)} → ${r.statusCode} ${r.body.slice(0, 400)}`);
      if (r.statusCode === 400) expect(r.json().code).toBe("CT_INVALID_QUERY");
    }
    // Both kinds of answer were exercised.
    expect(statuses.get(200)).toBeGreaterThan(10);
    expect(statuses.get(400)).toBeGreaterThan(10);
  });

  it("refuses every tampered cursor with 400 CT_INVALID_CURSOR", async () => {
    t = await makeApp();
    await ingest(t, [wireEvent(), wireEvent(), wireEvent()]);
    const rand = prng(3);
    for (let i = 0; i < 200; i++) {
      const cursor = hostileCursor(rand);
      const r = await t.app.inject({
        method: "GET",
        url: `/v1/events?limit=1&cursor=${cursor}&from=${RANGE.from}`,
        headers: auth(t.keys.readAll),
      });
      if (r.statusCode !== 400 || INTERNALS.test(r.body)) throw new Error(`cursor ${cursor} → ${r.statusCode} ${r.body.slice(0, 300)}`);
      expect(r.json()).toMatchObject({ code: "CT_INVALID_CURSOR", path: ["query", "cursor"] });
    }
    const repeated = await t.app.inject({ method: "GET", url: "/v1/events?cursor=a&cursor=b", headers: auth(t.keys.readAll) });
    expect(repeated.json().code).toBe("CT_INVALID_CURSOR");
  });

  it("still pages with the cursors it issues", async () => {
    t = await makeApp();
    await ingest(t, [wireEvent(), wireEvent(), wireEvent()]);
    const first = await t.app.inject({ method: "GET", url: `/v1/events?limit=2&from=${RANGE.from}`, headers: auth(t.keys.readAll) });
    const next = first.json().next_cursor as string;
    const second = await t.app.inject({
      method: "GET",
      url: `/v1/events?limit=2&from=${RANGE.from}&cursor=${next}`,
      headers: auth(t.keys.readAll),
    });
    expect(second.statusCode).toBe(200);
    expect(second.json().events).toHaveLength(1);
  });

  it("answers a wrong method with 405 and the allowed methods, and an unknown path with 404", async () => {
    t = await makeApp();
    const cases: Array<[string, string, string]> = [
      ["GET", "/v1/query", "POST"],
      ["PUT", "/v1/events", "GET, HEAD, POST"],
      ["DELETE", "/v1/export", "GET, HEAD"],
      ["POST", "/healthz", "GET, HEAD"],
    ];
    for (const [method, url, allow] of cases) {
      const r = await t.app.inject({ method: method as "GET", url, headers: auth(t.keys.admin) });
      expect([url, r.statusCode, r.headers.allow]).toEqual([url, 405, allow]);
      expect(r.json()).toMatchObject({ code: "CT_METHOD_NOT_ALLOWED", path: ["method"] });
    }
    const missing = await t.app.inject({ method: "GET", url: "/v1/nothing-here" });
    expect([missing.statusCode, missing.json().code]).toEqual([404, "CT_NOT_FOUND"]);
  });

  it("answers URLs the router cannot read in the same error shape, without echoing them", async () => {
    t = await makeApp();
    const long = await t.app.inject({ method: "DELETE", url: `/v1/keys/${"a".repeat(600)}`, headers: auth(t.keys.admin) });
    expect([long.statusCode, long.json()]).toEqual([414, { code: "CT_URL_TOO_LONG", message: expect.any(String), path: ["url"] }]);
    expect(long.body).not.toContain("aaaaaaaaaa");
    const bad = await t.app.inject({ method: "GET", url: "/v1/events%", headers: auth(t.keys.readAll) });
    expect([bad.statusCode, bad.json()]).toEqual([404, { code: "CT_NOT_FOUND", message: "The URL could not be decoded", path: ["url"] }]);
  });
});

describe("hostile exports", () => {
  it("refuses a format that is not csv, ndjson or parquet, including names every object has, and leaves no file", async () => {
    t = await makeApp();
    await ingest(t, [wireEvent()]);
    const exportDirs = async () => (await readdir(tmpdir())).filter((d) => d.startsWith("costtrail-export-")).sort();
    const before = await exportDirs();
    for (const format of ["toString", "constructor", "__proto__", "valueOf", "hasOwnProperty", "xlsx", ""]) {
      const r = await t.app.inject({ method: "GET", url: `/v1/export?format=${format}&from=${RANGE.from}`, headers: auth(t.keys.readAll) });
      expect([format, r.statusCode, r.json().code]).toEqual([format, 400, "CT_INVALID_QUERY"]);
    }
    const ok = await t.app.inject({ method: "GET", url: `/v1/export?format=csv&from=${RANGE.from}`, headers: auth(t.keys.readAll) });
    expect(ok.headers["x-costtrail-rows"]).toBe("1");
    await new Promise((r) => setTimeout(r, 50));
    expect(await exportDirs()).toEqual(before);
  });
});

describe("a failing store", () => {
  it("answers 500 with an error id that matches exactly one log line, which has the cause; the answer has neither", async () => {
    const config = parseConfig("", "test.yaml");
    const store = await openTestLedger({ path: ":memory:" });
    const admin = generateApiKey();
    const ring = new KeyRing();
    ring.replace([{ id: "a", name: "admin", hash: hashApiKey(admin), scopes: new Set(["admin"]), projects: null, source: "config" }]);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trim().split("\n"));
        done();
      },
    });
    const rateCard = await loadDefaultRateCard();
    const app = await buildApp({ store, rateCard: () => rateCard, keys: ring, config: () => config, logger: { level: "info", stream } });
    try {
      // The driver goes away under the app: every read now fails inside DuckDB.
      await store.driver.close();
      for (const [method, url, payload] of [
        ["POST", "/v1/query", { metrics: ["cost_usd"] }],
        ["GET", "/v1/events", undefined],
        ["GET", "/v1/export?format=csv", undefined],
      ] as const) {
        const r = await app.inject({ method, url, headers: auth(admin), ...(payload && { payload }) });
        expect(r.statusCode).toBe(500);
        const body = r.json();
        expect(body).toMatchObject({ code: "CT_STORE_FAILED", path: [] });
        expect(body.error_id).toMatch(/^[0-9a-f]{12}$/);
        expect(body.message).toContain(body.error_id);
        expect(r.body).not.toMatch(INTERNALS);
        const logged = lines.filter((l) => l.includes(body.error_id));
        expect(logged).toHaveLength(1);
        expect(JSON.parse(logged[0] as string)).toMatchObject({ error_id: body.error_id, code: "CT_STORE_FAILED", url: url.split("?")[0] });
        expect(JSON.parse(logged[0] as string).cause.length).toBeGreaterThan(body.message.length);
      }
    } finally {
      await app.close();
    }
  });
});
