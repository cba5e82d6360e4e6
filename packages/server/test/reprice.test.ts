import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import { afterEach, describe, expect, it } from "vitest";
import { Repricer, planWindows, priceAgain } from "../src/reprice/repricer.js";
import type { PriceVersion, RepriceSelection } from "../src/store/ledger-store.js";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

// A model priced only later, and a negotiated discount added late.
const LATER = `
version: 1
pricing:
  models:
    - provider: acme
      model: acme-1
      rates: { input_mtok: "1", output_mtok: "2" }
  discounts: { openai: "10" }
`;

// Each event: 1,200 prompt tokens (1,024 cached) and 300 completion tokens → 176 input, 1,024 cache read, 300 output.
// gpt-4o-2024-08-06 as recorded: 176 × 2.5 + 1,024 × 1.25 + 300 × 10 = 4,720 per million = 0.00472; 10% off: 0.004248.
// acme-1 (no cache rate: cache reads at input): (176 + 1,024) × 1 + 300 × 2 = 1,800 per million = 0.0018.
const EVENTS = [
  wireEvent({ id: "g-1", timestamp: "2026-11-05T10:15:00Z" }),
  wireEvent({ id: "g-2", timestamp: "2026-11-05T13:40:00Z" }),
  wireEvent({ id: "g-3", timestamp: "2026-11-06T09:00:00Z", project: "proj-b" }),
  ...[1, 2, 3, 4].map((i) => wireEvent({ id: `a-${i}`, provider: "acme", model: "acme-1", timestamp: `2026-11-0${i + 4}T1${i}:00:00Z` })),
];

let apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps) await a.close();
  apps = [];
});

async function open(config: string, path: string): Promise<TestApp> {
  const t = await makeApp(config, { path });
  apps.push(t);
  return t;
}

async function ledgerPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "ct-reprice-")), "ledger.duckdb");
}

const post = (t: TestApp, body: unknown, key = t.keys.admin) =>
  t.app.inject({ method: "POST", url: "/v1/reprice", headers: auth(key), payload: body as Record<string, unknown> });

async function finished(t: TestApp, version: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = (await t.app.inject({ method: "GET", url: `/v1/reprice/${version}`, headers: auth(t.keys.admin) })).json();
    if (v.state !== "running" || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function totals(t: TestApp, pricing?: string) {
  const r = await t.app.inject({
    method: "POST",
    url: "/v1/query",
    headers: auth(t.keys.readAll),
    payload: { ...RANGE, metrics: ["cost_usd", "unpriced_requests"], group_by: ["model"], ...(pricing && { pricing }) },
  });
  return r.json().rows;
}

/** A version as a crash leaves it: running, nothing finished, unless `over` says otherwise. */
function runningVersion(selection: RepriceSelection, over: Partial<PriceVersion>): PriceVersion {
  return {
    version: 1,
    created_ms: Date.now(),
    created_by: "admin (key_test)",
    reason: "late prices",
    selection,
    rate_card: "",
    dry_run: false,
    state: "running",
    events_total: 7,
    events_done: 0,
    events_changed: 0,
    done_until_ms: null,
    recorded_cost: null,
    current_cost: null,
    unpriced_before: null,
    unpriced_after: null,
    finished_ms: null,
    error: null,
    ...over,
  };
}

describe("reprice", () => {
  it("records a new price version beside the recorded prices, and queries read either", async () => {
    const path = await ledgerPath();
    const before = await open("", path);
    expect((await ingest(before, EVENTS)).json()).toMatchObject({ accepted: 7 });
    await before.close();
    apps = [];
    const t = await open(LATER, path);
    const recorded = [
      { model: "gpt-4o-2024-08-06", cost_usd: "0.01416", unpriced_requests: 0 },
      { model: "acme-1", cost_usd: null, unpriced_requests: 4 },
    ];
    expect(await totals(t)).toEqual(recorded);
    // No version yet: current is recorded.
    expect(await totals(t, "current")).toEqual(recorded);

    // A dry run says what would change and writes nothing.
    const dry = await post(t, { from: RANGE.from, to: RANGE.to, dry_run: true });
    expect(dry.statusCode).toBe(202);
    expect(await finished(t, dry.json().version)).toMatchObject({
      state: "done",
      dry_run: true,
      events_total: 7,
      events_done: 7,
      recorded_cost_usd: "0.01416",
      current_cost_usd: "0.019944", // 3 × 0.004248 + 4 × 0.0018
      difference_usd: "0.005784",
      unpriced_before: 4,
      unpriced_after: 0,
    });
    expect(await totals(t, "current")).toEqual(recorded);

    const noReason = await post(t, { from: RANGE.from, to: RANGE.to });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json()).toMatchObject({ code: "CT_INVALID_QUERY", issues: [{ path: ["reason"], code: "required" }] });

    const run = await post(t, { from: RANGE.from, to: RANGE.to, reason: "acme-1 priced; 10% OpenAI discount from the contract" });
    expect(run.statusCode).toBe(202);
    const v = await finished(t, run.json().version);
    expect(v).toMatchObject({
      version: 2,
      state: "done",
      dry_run: false,
      created_by: "admin (test:admin)",
      reason: "acme-1 priced; 10% OpenAI discount from the contract",
      recorded_cost_usd: "0.01416",
      current_cost_usd: "0.019944",
      unpriced_before: 4,
      unpriced_after: 0,
      events_changed: 7,
    });
    // Nothing recorded changed; current reads the new version.
    expect(await totals(t)).toEqual(recorded);
    expect(await totals(t, "current")).toEqual([
      { model: "gpt-4o-2024-08-06", cost_usd: "0.012744", unpriced_requests: 0 },
      { model: "acme-1", cost_usd: "0.0072", unpriced_requests: 0 },
    ]);

    // The same request again, with the same rate card: the version it already made.
    const again = await post(t, { from: RANGE.from, to: RANGE.to, reason: "again" });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ version: 2, reused: true });
    expect((await t.app.inject({ method: "GET", url: "/v1/reprice", headers: auth(t.keys.admin) })).json().versions).toHaveLength(2);
  });

  it("says so when nothing matches, and refuses bad input and non-admin keys", async () => {
    const t = await open("", ":memory:");
    await ingest(t, EVENTS);
    const none = await post(t, { from: "2025-01-01T00:00:00Z", to: "2025-02-01T00:00:00Z", reason: "x" });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ version: null, events: 0, message: "no events match the selection; nothing was priced again" });
    expect((await t.app.inject({ method: "GET", url: "/v1/reprice", headers: auth(t.keys.admin) })).json().versions).toEqual([]);
    const bad = await post(t, { to: RANGE.to, reason: "x", filters: [{ column: "nope", op: "eq", value: "a" }], surprise: 1 });
    expect(bad.json().issues.map((i: { path: unknown[] }) => i.path.join("."))).toEqual(["surprise", "from", "filters.0.column"]);
    expect((await post(t, { from: RANGE.from, reason: "x" }, t.keys.readAll)).statusCode).toBe(403);
    const missing = await t.app.inject({ method: "GET", url: "/v1/reprice/99", headers: auth(t.keys.admin) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("CT_VERSION_NOT_FOUND");
  });

  it("runs one re-pricing at a time", async () => {
    const t = await open(LATER, ":memory:");
    await ingest(t, EVENTS);
    const body = { from: RANGE.from, to: RANGE.to, reason: "once" };
    const [a, b] = await Promise.all([post(t, body), post(t, { ...body, dry_run: true })]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([202, 409]);
    expect((a.statusCode === 409 ? a : b).json().code).toBe("CT_REPRICE_RUNNING");
    const started = a.statusCode === 202 ? a : b;
    expect(await finished(t, started.json().version)).toMatchObject({ state: "done" });
  });

  it("resumes a run a crash interrupted from its last finished window, without counting any event twice", async () => {
    const path = await ledgerPath();
    const first = await open("", path);
    await ingest(first, EVENTS);
    // What a crash leaves: version 1 running, done up to 2026-11-06T00:00Z (g-1, g-2, a-1 written),
    // and, past that point, a window's rows written before its progress was saved (g-3, a-2).
    const card = await loadDefaultRateCard({
      models: [{ provider: "acme", model: "acme-1", prices: [{ rates: { input_mtok: "1", output_mtok: "2" } }] }],
      discounts: { openai: "10" },
    });
    const selection = { from: Date.parse(RANGE.from), to: Date.parse(RANGE.to), filters: [], projects: null };
    const split = Date.parse("2026-11-06T00:00:00Z");
    const all = await first.store.repriceEvents(selection, selection.from, selection.to);
    await first.store.writeEventPrices(
      1,
      all.filter((e) => e.ts_ms < split || ["g-3", "a-2"].includes(e.id)).map((e) => priceAgain(card, e)),
    );
    const { rateCardFingerprint } = await import("../src/reprice/repricer.js");
    await first.store.savePriceVersion(
      runningVersion(selection, {
        rate_card: rateCardFingerprint(card),
        events_done: 3,
        events_changed: 3,
        done_until_ms: split,
        // The totals of the finished windows, saved with them: g-1 and g-2 at 0.00472 (0.004248 now), a-1 unpriced (0.0018 now).
        recorded_cost: "0.00944",
        current_cost: "0.010296",
        unpriced_before: 1,
        unpriced_after: 0,
      }),
    );
    await first.close();
    apps = [];
    const t = await open(LATER, path);
    const v = await finished(t, 1);
    expect(v).toMatchObject({ state: "done", events_done: 7, current_cost_usd: "0.019944", unpriced_after: 0 });
    expect(await totals(t, "current")).toEqual([
      { model: "gpt-4o-2024-08-06", cost_usd: "0.012744", unpriced_requests: 0 },
      { model: "acme-1", cost_usd: "0.0072", unpriced_requests: 0 },
    ]);
    // The rows the crash left past its last finished window were written again, with the same prices.
    const rows = await t.store.driver.all({
      sql: "SELECT id, count(DISTINCT CAST(cost_usd AS VARCHAR)) AS prices FROM event_prices WHERE version = 1 GROUP BY id ORDER BY id",
      params: [],
    });
    expect(rows.map((r) => r.id)).toEqual(["a-1", "a-2", "a-3", "a-4", "g-1", "g-2", "g-3"]);
    expect(rows.every((r) => Number(r.prices) === 1)).toBe(true);
  });

  it("fails an interrupted run rather than finish it with another rate card", async () => {
    const path = await ledgerPath();
    const first = await open(LATER, path);
    await ingest(first, EVENTS);
    const selection = { from: Date.parse(RANGE.from), to: Date.parse(RANGE.to), filters: [], projects: null };
    await first.store.savePriceVersion(runningVersion(selection, { rate_card: "sha256:not-the-current-card" }));
    await first.close();
    apps = [];
    const t = await open(LATER, path);
    const v = await finished(t, 1);
    expect(v).toMatchObject({ state: "failed", error: expect.stringContaining("the rate card changed") });
    expect(await totals(t, "current")).toEqual(await totals(t));
  });
});

describe("Repricer windows", () => {
  it("counts a crowded hour again by minute, second and millisecond, and prices every event once", async () => {
    // Ingested while acme-1 had no price: every event's price changes.
    const t = await open("", ":memory:");
    const at = (ms: string) => `2026-11-10T08:15:${ms}Z`;
    // Windows of 3 events: the hour (7) is counted by second (5 and 2), the crowded second by millisecond (4 and 1);
    // the crowded millisecond is a window alone, the other 3 events one more.
    const events = [
      ...[1, 2, 3, 4].map((i) => wireEvent({ id: `same-${i}`, timestamp: at("01.500"), provider: "acme", model: "acme-1" })),
      wireEvent({ id: "later-ms", timestamp: at("01.900"), provider: "acme", model: "acme-1" }),
      wireEvent({ id: "next-s-1", timestamp: at("02.000"), provider: "acme", model: "acme-1" }),
      wireEvent({ id: "next-s-2", timestamp: at("02.100"), provider: "acme", model: "acme-1" }),
    ];
    expect((await ingest(t, events)).json()).toMatchObject({ accepted: 7 });
    const saved: number[] = [];
    const store = new Proxy(t.store, {
      get(target, prop, receiver) {
        if (prop === "savePriceVersion")
          return async (v: { done_until_ms: number | null }) => {
            if (v.done_until_ms !== null) saved.push(v.done_until_ms);
            return target.savePriceVersion(v as never);
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const card = await loadDefaultRateCard({
      models: [{ provider: "acme", model: "acme-1", prices: [{ rates: { input_mtok: "1", output_mtok: "2" } }] }],
    });
    const log = { info() {}, error() {} };
    const repricer = new Repricer(store, () => card, log, 3);
    const selection = { from: Date.parse(RANGE.from), to: Date.parse(RANGE.to), filters: [], projects: null };
    const started = await repricer.start({ selection, reason: "windows", createdBy: "test", dryRun: false });
    expect(started.events).toBe(7);
    await repricer.idle();
    const ms = (x: string) => Date.parse(at(x));
    expect([...new Set(saved)]).toEqual([ms("01.900"), Date.parse(RANGE.to)]);
    const rows = await t.store.driver.all({ sql: "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM event_prices", params: [] });
    expect(rows).toEqual([{ n: 7, ids: 7 }]);
    expect((await t.store.priceVersions())[0]).toMatchObject({ state: "done", events_done: 7, events_changed: 7, current_cost: "0.0126" });
    // Priced again with the same card, nothing changes: the version writes no row, and current reads as before.
    const again = await repricer.start({
      selection: { ...selection, to: selection.to - 1 },
      reason: "same",
      createdBy: "test",
      dryRun: false,
    });
    await repricer.idle();
    expect((await t.store.priceVersions())[1]).toMatchObject({
      version: again.version?.version,
      state: "done",
      events_changed: 0,
      current_cost: "0.0126",
    });
    expect(await t.store.driver.all({ sql: "SELECT count(*) AS n FROM event_prices", params: [] })).toEqual([{ n: 7 }]);
  });
});

describe("planWindows", () => {
  it("joins adjacent spans up to the window size and never splits one", () => {
    const H = 3_600_000;
    expect(
      planWindows(
        [
          { from: 0, to: H, events: 30_000 },
          { from: H, to: 2 * H, events: 20_000 },
          { from: 2 * H, to: 3 * H, events: 1 },
          { from: 5 * H, to: 6 * H, events: 70_000 },
        ],
        50_000,
      ),
    ).toEqual([
      { from: 0, to: 2 * H, events: 50_000 },
      { from: 2 * H, to: 3 * H, events: 1 },
      { from: 5 * H, to: 6 * H, events: 70_000 },
    ]);
  });
});
