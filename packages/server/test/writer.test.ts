import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
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
