import { describe, expect, it } from "vitest";
// The ledger thread runs compiled JavaScript: this test drives the built module (npm test builds first).
import { WorkerLedgerStore } from "../dist/store/duckdb/worker-store.js";
import { ledgerRows } from "./helpers.js";

describe("the ledger on its own thread", () => {
  it("appends, answers each request with its own counts, and reads back", async () => {
    const store = await WorkerLedgerStore.open({ path: ":memory:" });
    try {
      const [a, b] = [await ledgerRows(3), await ledgerRows(4)];
      const results = await Promise.all([store.append(a), store.append(b), store.append(a)]);
      expect(results.map((r) => [r.inserted, r.duplicates.length])).toEqual([
        [3, 0],
        [4, 0],
        [0, 3],
      ]);
      expect(await store.count({ projects: null })).toBe(7);
      expect(store.pendingRows()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("carries coded errors across the thread boundary", async () => {
    const store = await WorkerLedgerStore.open({ path: ":memory:", maxPendingRows: 5 });
    try {
      const [a, b] = [await ledgerRows(4), await ledgerRows(4)];
      const settled = await Promise.allSettled([store.append(a), store.append(b)]);
      expect(settled[0]).toMatchObject({ status: "fulfilled" });
      expect(settled[1]).toMatchObject({ status: "rejected", reason: { code: "CT_OVERLOADED" } });
    } finally {
      await store.close();
    }
  });
});
