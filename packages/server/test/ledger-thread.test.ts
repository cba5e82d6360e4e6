import { describe, expect, it } from "vitest";
// The ledger thread runs compiled JavaScript: this test drives the built module (npm test builds first).
import { openDuckDBLedger } from "../dist/store/duckdb/open-ledger.js";
import { ledgerRows, preparedEvents, wireEvent } from "./helpers.js";

describe("the ledger on its own thread", () => {
  it("appends, answers each request with its own counts, and reads back", async () => {
    const store = await openDuckDBLedger({ path: ":memory:", thread: true });
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

  it("keeps each request's values when requests cross together as one batch", async () => {
    const store = await openDuckDBLedger({ path: ":memory:", thread: true });
    try {
      const first = await preparedEvents([
        wireEvent({ id: "w1", tags: { queue: "a", tier: "gold" }, feature: "f1" }),
        wireEvent({ id: "w2", tags: undefined, feature: "f2", streamed: true }),
      ]);
      const second = await preparedEvents([wireEvent({ id: "w3", tags: { queue: "b" }, feature: "f3", cache_hit: false })]);
      // Same turn of the event loop: one message, one concatenated batch, two answers.
      const [r1, r2] = await Promise.all([store.append(first), store.append(second)]);
      expect([r1.inserted, r2.inserted]).toEqual([2, 1]);
      const page = await store.listEvents({ from: 0, to: 8.64e15, filters: [], limit: 10 }, null, { projects: null });
      const byId = Object.fromEntries(page.events.map((e) => [e.id, e]));
      expect(byId.w1).toMatchObject({ feature: "f1", tags: { queue: "a", tier: "gold" } });
      expect(byId.w2).toMatchObject({ feature: "f2", streamed: true });
      expect(byId.w2?.tags).toBeUndefined();
      expect(byId.w3).toMatchObject({ feature: "f3", tags: { queue: "b" }, cache_hit: false });
    } finally {
      await store.close();
    }
  });

  it("carries coded errors across the thread boundary", async () => {
    const store = await openDuckDBLedger({ path: ":memory:", maxPendingRows: 5, thread: true });
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
