import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/serve.js";
import type { Ledger } from "../src/store/ledger.js";
import { RANGE, type TestApp, type TestLedger, auth, ingest, makeApp, openTestLedger, preparedEvents, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
let store: TestLedger | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
  await store?.close();
  store = null;
});

describe("a query larger than the ledger's memory", () => {
  it("answers 503 CT_MEMORY_LIMIT naming the limit, while small queries and ingest go on", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "ct-memory-")), "ledger.duckdb");
    t = await makeApp("", { path });
    const pad = "x".repeat(200);
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 2_500 }, (_, i) =>
        wireEvent({ id: `m${b}-${i}`, user_id: `user-${b}-${i}`, tags: { n: `${b}-${i}`, pad } }),
      );
      expect((await ingest(t, events)).json().accepted).toBe(2_500);
    }
    await t.close();
    // Reopened with a small DuckDB limit: the 50,000 events fit, a row per event with a 200-character tag does not.
    t = await makeApp("", { path, duckdbMemoryLimitBytes: 48 * 1024 ** 2 });
    const big = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["cost_usd", "requests"], group_by: ["user_id", "tag.n", "tag.pad"], grain: "hour", ...RANGE },
    });
    expect(big.statusCode).toBe(503);
    expect(big.headers["retry-after"]).toBe("1");
    expect(big.json()).toMatchObject({ code: "CT_MEMORY_LIMIT", path: [] });
    expect(big.json().message).toMatch(/needs more memory than the ledger may use \(48\.0 MiB\); narrow its time range or its groups/);
    const small = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["requests"], ...RANGE },
    });
    expect(small.json().rows).toEqual([{ requests: 50_000 }]);
    // Ingest goes on: an append may be shed while the reopened ledger compacts within the small
    // limit, but only as 503 CT_OVERLOADED with Retry-After, which clients retry; it is then accepted.
    const event = wireEvent();
    let last = await ingest(t, [event]);
    for (let attempt = 0; last.statusCode === 503 && attempt < 20; attempt++) {
      expect(last.json(), last.body).toMatchObject({ code: "CT_OVERLOADED" });
      expect(last.headers["retry-after"]).toBe("1");
      await new Promise((r) => setTimeout(r, 500));
      last = await ingest(t, [event]);
    }
    expect(last.json(), last.body).toMatchObject({ accepted: 1 });
  }, 120_000);
});

describe("an append that meets DuckDB's memory limit", () => {
  it("is shed with CT_OVERLOADED; its segment is attached afresh, not checkpointed damaged, and no acknowledged event is lost", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "ct-memory-")), "ledger.duckdb");
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      // Nowhere to spill, and a small limit: the live segment's rows soon fill DuckDB's memory.
      store = await openTestLedger({ path, duckdbMemoryLimitBytes: 40 * 1024 ** 2, duckdbTempDirectory: null, segmentRows: 1_000_000 });
      const s = store;
      const first = s.layout().current;
      const pad = "p".repeat(250);
      const acknowledged: string[] = [];
      let shed: unknown = null;
      for (let b = 0; b < 80 && shed === null; b++) {
        const batch = await preparedEvents(
          Array.from({ length: 2_000 }, (_, i) => wireEvent({ id: `mem_${b}_${i}`, tags: { pad, pad2: pad, n: `${b}-${i}` } })),
        );
        await s.append(batch).then(
          () => acknowledged.push(...batch.map((e) => e.event.id)),
          (e) => {
            shed = e;
          },
        );
      }
      expect(shed).toMatchObject({ code: "CT_OVERLOADED", message: "the ledger's memory is full; retry shortly" });
      // The segment the append failed on is sealed right after: appends go to a fresh one.
      const failedSegment = first;
      await expect.poll(() => s.layout().current, { timeout: 5_000, interval: 20 }).toBeGreaterThan(first);
      // Memory comes back (a large query ends, say): ingest goes on into a fresh segment.
      await s.driver.execute({ sql: "SET GLOBAL memory_limit = '2GB'", params: [] });
      const after = await preparedEvents([wireEvent({ id: "after-1" }), wireEvent({ id: "after-2" })]);
      expect(await s.append(after)).toMatchObject({ inserted: 2 });
      acknowledged.push("after-1", "after-2");
      await s.settle();
      expect(s.layout().sealed).toEqual([]);
      expect(existsSync(`${path}.live-${failedSegment}`)).toBe(false);
      expect(warnings.filter((w) => /invalidated|failed/i.test(w))).toEqual([]);
      expect(await s.count({ projects: null })).toBe(acknowledged.length);
      await s.close();
      store = await openTestLedger({ path });
      expect(await store.count({ projects: null })).toBe(acknowledged.length);
      const ids = await store.driver.all({ sql: "SELECT id FROM events", params: [] });
      expect(new Set(ids.map((r) => String(r.id)))).toEqual(new Set(acknowledged));
    } finally {
      process.off("warning", onWarning);
    }
  }, 180_000);
});

describe("server.memory_limit", () => {
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it("gives DuckDB its share of the limit and a place beside the ledger to spill to", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-memory-"));
    const file = join(dir, "costtrail.yaml");
    await writeFile(file, "version: 1\nserver:\n  memory_limit: 512MiB\n");
    server = await startServer({
      port: 0,
      dataDir: join(dir, "data"),
      configFile: file,
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: `ct_${"M".repeat(40)}` },
      watchConfig: false,
      storeThread: false,
    });
    const driver = (server.store as Ledger).driver;
    const [row] = await driver.all({
      sql: "SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS t",
      params: [],
    });
    // 40% of 512 MiB, as DuckDB prints it.
    expect(row?.m).toBe("204.7 MiB");
    expect(row?.t).toBe(join(dir, "data", "ledger.duckdb.tmp"));
  });
});
