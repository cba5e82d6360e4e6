import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterEach, describe, expect, it } from "vitest";
import { EVENT_COLUMNS } from "../src/store/duckdb/schema.js";
import { type TestLedger, ledgerRows, openTestLedger, preparedEvents, wireEvent } from "./helpers.js";

let store: TestLedger | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

describe("group-commit writer", () => {
  it("commits concurrent appends together and answers each with its own counts", async () => {
    store = await openTestLedger({ path: ":memory:" });
    const batches = await Promise.all([ledgerRows(10), ledgerRows(20), ledgerRows(30)]);
    const results = await Promise.all(batches.map((b) => store?.append(b)));
    expect(results.map((r) => r?.inserted)).toEqual([10, 20, 30]);
    expect(await store.count({ projects: null })).toBe(60);
  });

  it("finds duplicates of live events in memory, and again after reopening the ledger", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-recent-"));
    const path = join(dir, "ledger.duckdb");
    const now = Date.now();
    const live = await preparedEvents(
      Array.from({ length: 20 }, (_, i) => wireEvent({ timestamp: new Date(now - i * 1000).toISOString() })),
    );
    store = await openTestLedger({ path });
    expect(await store.append(live)).toMatchObject({ inserted: 20 });
    expect((await store.append(live.slice(0, 5))).duplicates).toHaveLength(5);
    await store.close();
    store = await openTestLedger({ path });
    expect((await store.append(live)).duplicates).toHaveLength(20);
    expect(await store.count({ projects: null })).toBe(20);
  });

  it("checks events the id index has dropped against the ledger, still telling duplicates from conflicts", async () => {
    const hour = 3_600_000;
    const now = Date.now();
    store = await openTestLedger({ path: ":memory:", idempotency: { windowMs: 24 * hour, maxIds: 10 } });
    const wire = (tag: string, hoursAgo: number) =>
      Array.from({ length: 10 }, (_, i) => wireEvent({ id: `${tag}-${i}`, timestamp: new Date(now - hoursAgo * hour + i).toISOString() }));
    const [a, b, c] = [wire("a", 3), wire("b", 2), wire("c", 1)];
    // Received an hour apart: with room for 10 ids, the index keeps only the last hour.
    await store.driver.append(await preparedEvents(a), now - 3 * hour);
    await store.driver.append(await preparedEvents(b), now - 2 * hour);
    await store.driver.append(await preparedEvents(c), now - hour);
    const resent = await preparedEvents([
      a[0] as Record<string, unknown>,
      { ...a[1], feature: "changed" },
      b[2] as Record<string, unknown>,
      c[3] as Record<string, unknown>,
    ]);
    expect(await store.append(resent)).toEqual({
      inserted: 0,
      duplicates: [0, 2, 3],
      conflicts: [{ index: 1, existing_timestamp: new Date(now - 3 * hour + 1).toISOString() }],
    });
  });

  it("does not catch an id reused with a later timestamp once the first event has left the window", async () => {
    const hour = 3_600_000;
    const now = Date.now();
    store = await openTestLedger({ path: ":memory:", idempotency: { windowMs: hour, maxIds: 1000 } });
    const first = wireEvent({ id: "reused", timestamp: new Date(now - 3 * hour).toISOString() });
    await store.driver.append(await preparedEvents([first]), now - 3 * hour);
    await store.driver.append(await preparedEvents([wireEvent()]), now);
    // Outside the window, the ledger is searched only around the new event's own time.
    expect(await store.append(await preparedEvents([{ ...first, timestamp: new Date(now).toISOString() }]))).toMatchObject({ inserted: 1 });
  });

  it("opens a ledger written before content hashes were kept, and judges its events by id and time", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-old-"));
    const path = join(dir, "ledger.duckdb");
    const old = await DuckDBInstance.create(path);
    const conn = await old.connect();
    const columns = EVENT_COLUMNS.filter(([n]) => n !== "content_hash").map(([n, t]) => `"${n}" ${t}`);
    await conn.run(`CREATE TABLE events (${columns.join(", ")})`);
    await conn.run(
      `CREATE TABLE api_keys (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, scopes VARCHAR[] NOT NULL, projects VARCHAR[], created_at TIMESTAMP NOT NULL)`,
    );
    await conn.run(`INSERT INTO events (id, ts, received_at, project, provider, model, price_status, status, cost_usd)
      VALUES ('legacy', TIMESTAMP '2026-11-20 10:00:00', now()::TIMESTAMP, 'proj-a', 'openai', 'gpt-4o', 'priced', 'ok', 0.5)`);
    conn.closeSync();
    old.closeSync();
    store = await openTestLedger({ path });
    const same = wireEvent({ id: "legacy", timestamp: "2026-11-20T10:00:00Z" });
    const r = await store.append(await preparedEvents([same, { ...same, timestamp: "2026-11-21T10:00:00Z" }]));
    expect(r).toMatchObject({ inserted: 0, duplicates: [0], conflicts: [{ index: 1 }] });
    expect(await store.listApiKeys()).toEqual([]);
  });

  it("sheds load with CT_OVERLOADED instead of queueing without bound", async () => {
    store = await openTestLedger({ path: ":memory:", maxPendingRows: 50 });
    const [a, b, c] = [await ledgerRows(40), await ledgerRows(40), await ledgerRows(5)];
    const first = store.append(a);
    // The first batch is still being written: 40 + 40 would pass the limit of 50.
    await expect(store.append(b)).rejects.toMatchObject({ code: "CT_OVERLOADED" });
    const third = store.append(c);
    await expect(first).resolves.toMatchObject({ inserted: 40 });
    await expect(third).resolves.toMatchObject({ inserted: 5 });
    expect(store.pendingRows()).toBe(0);
    expect(await store.count({ projects: null })).toBe(45);
  });

  it("finishes queued batches before closing, and refuses new ones once closing", async () => {
    store = await openTestLedger({ path: ":memory:" });
    const pending = store.append(await ledgerRows(25));
    const closing = store.close();
    await expect(pending).resolves.toMatchObject({ inserted: 25 });
    await expect(store.append(await ledgerRows(1))).rejects.toMatchObject({ code: "CT_SHUTTING_DOWN" });
    await closing;
    store = null;
  });
});
