import type { PreparedEvent } from "@costtrail/core";
import { existsSync } from "node:fs";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterEach, describe, expect, it } from "vitest";
import { hourlyRowsSql, runRowsSql } from "../src/store/duckdb/hourly.js";
import { LIVE_EVENTS_SQL } from "../src/store/duckdb/schema.js";
import { REQUESTS_BY_PROJECT, type TestLedger, openTestLedger, preparedEvents, wireEvent } from "./helpers.js";

let store: TestLedger | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

const PROJECTS = ["proj-c", "proj-a", "proj-b"];

/** n events over three projects, interleaved in arrival order as live traffic is. */
async function prepared(n: number, from = 0): Promise<PreparedEvent[]> {
  return preparedEvents(
    Array.from({ length: n }, (_, k) => {
      const i = from + k;
      return wireEvent({
        id: `seg_${i}`,
        project: PROJECTS[i % 3],
        timestamp: new Date(Date.parse("2026-11-20T10:00:00Z") + i * 1000).toISOString(),
      });
    }),
  );
}

const rows = prepared;

async function tempLedger(): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "ct-seg-"));
  return { dir, path: join(dir, "ledger.duckdb") };
}

/** Rows of the main file's events table in stored order, read with DuckDB directly. */
async function mainFileRows(path: string): Promise<Array<{ id: string; project: string }>> {
  const inst = await DuckDBInstance.create(path);
  const c = await inst.connect();
  const r = (await c.runAndReadAll("SELECT id, project FROM events ORDER BY rowid")).getRowObjectsJS() as Array<{
    id: string;
    project: string;
  }>;
  c.closeSync();
  inst.closeSync();
  return r;
}

describe("live segments and compaction", () => {
  it("seals a full segment and compacts it into the main file, sorted by project, and deletes its file", async () => {
    const { dir, path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 30 });
    const events = await prepared(90);
    const all = (a: number, b: number) => events.slice(a, b);
    for (let off = 0; off < 90; off += 15) {
      await store.append(all(off, off + 15));
      // Every acknowledged event is visible exactly once, wherever it is.
      expect(await store.count({ projects: null })).toBe(off + 15);
    }
    await store.settle();
    expect(store.layout().sealed).toEqual([]);
    expect(await store.count({ projects: null })).toBe(90);
    expect(await store.count({ projects: ["proj-b"] })).toBe(30);
    const segmentFiles = (await readdir(dir)).filter((f) => f.includes(".live-"));
    // Only the live segment now appended to is left.
    expect(segmentFiles.filter((f) => !f.endsWith(".wal"))).toEqual([`ledger.duckdb.live-${store.layout().current}`]);
    await store.close();
    store = null;
    const stored = await mainFileRows(path);
    expect(stored).toHaveLength(90);
    // Each compacted unit of 30 holds its projects together: a, b, c in runs of 10.
    for (let unit = 0; unit < 3; unit++) {
      const projects = stored.slice(unit * 30, unit * 30 + 30).map((r) => r.project);
      expect(projects).toEqual([...Array(10).fill("proj-a"), ...Array(10).fill("proj-b"), ...Array(10).fill("proj-c")]);
    }
    expect(new Set(stored.map((r) => r.id)).size).toBe(90);
  });

  it("compacts a sealed segment by itself once ingest pauses", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 20 });
    const s = store;
    await s.append(await rows(25, 500));
    // Sealed right after the commit that filled it; compacted once nothing arrives for a while.
    await expect.poll(() => s.layout().sealed.length, { timeout: 2_000, interval: 20 }).toBe(1);
    const sealed = s.layout().sealed;
    await expect.poll(() => s.layout().sealed, { timeout: 5_000, interval: 100 }).toEqual([]);
    // The segment leaves the layout before its file is detached and deleted, so new reads skip it.
    await expect.poll(() => existsSync(`${path}.live-${sealed[0]}`), { timeout: 2_000, interval: 20 }).toBe(false);
    expect(await s.count({ projects: null })).toBe(25);
  });

  it("seals and compacts the last live segment once ingest has been quiet, and keeps taking events after", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, idleSeal: { afterMs: 300, minRows: 10, anyAfterMs: 1_500 } });
    const s = store;
    await s.append(await rows(12, 600));
    const first = s.layout().current;
    await expect.poll(() => s.layout().current, { timeout: 3_000, interval: 50 }).toBeGreaterThan(first);
    await expect.poll(() => existsSync(`${path}.live-${first}`), { timeout: 5_000, interval: 100 }).toBe(false);
    expect(await s.count({ projects: null })).toBe(12);
    // Fewer rows than minRows: sealed only after the longer quiet.
    await s.append(await rows(3, 700));
    const second = s.layout().current;
    await new Promise((r) => setTimeout(r, 600));
    expect(s.layout().current).toBe(second);
    await expect.poll(() => s.layout().current, { timeout: 4_000, interval: 50 }).toBeGreaterThan(second);
    await expect.poll(() => existsSync(`${path}.live-${second}`), { timeout: 5_000, interval: 100 }).toBe(false);
    expect(await s.append(await rows(4, 800))).toMatchObject({ inserted: 4 });
    expect(await s.count({ projects: null })).toBe(19);
  });

  it("seals after the short quiet a segment that grew past minRows after its first small commit", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, idleSeal: { afterMs: 300, minRows: 10, anyAfterMs: 60_000 } });
    const s = store;
    // The first commit is small, so the long wait is armed; the segment then fills past minRows.
    await s.append(await rows(2, 900));
    await s.append(await rows(12, 910));
    const first = s.layout().current;
    await expect.poll(() => s.layout().current, { timeout: 3_000, interval: 50 }).toBeGreaterThan(first);
    await expect.poll(() => existsSync(`${path}.live-${first}`), { timeout: 5_000, interval: 100 }).toBe(false);
    expect(await s.count({ projects: null })).toBe(14);
  });

  it("refuses appends with CT_OVERLOADED while too many full segments wait for compaction, and takes them again after", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 5 });
    const s = store;
    // Compaction is made to fail (its marker row already exists), so sealed segments pile up.
    const markers = Array.from({ length: 40 }, (_, i) => `('moved:${i + 1}', 'blocking')`).join(", ");
    await s.driver.execute({ sql: `INSERT INTO meta VALUES ${markers}`, params: [] });
    const refused: unknown[] = [];
    for (let b = 0; b < 10; b++) await s.append(await rows(5, 1000 + b * 5)).catch((e) => refused.push(e));
    // Once four sealed segments wait, every later append is refused (an acknowledged append may
    // still fill the current one).
    expect(s.layout().sealed.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    const accepted = 10 - refused.length;
    for (const e of refused)
      expect(e).toMatchObject({
        code: "CT_OVERLOADED",
        message: expect.stringMatching(/\d full live segments are waiting to be compacted/),
      });
    await s.driver.execute({ sql: "DELETE FROM meta WHERE value = 'blocking'", params: [] });
    // A compaction attempt already under way when the markers went may still fail once.
    await expect
      .poll(
        () =>
          s.settle().then(
            () => true,
            () => false,
          ),
        { timeout: 10_000, interval: 100 },
      )
      .toBe(true);
    expect(s.layout().sealed).toEqual([]);
    expect(await s.append(await rows(5, 5000))).toMatchObject({ inserted: 5 });
    expect(await s.count({ projects: null })).toBe(5 * accepted + 5);
  });

  it("answers reads that run during a compaction with every event once", async () => {
    store = await openTestLedger({ path: ":memory:", segmentRows: 500 });
    await store.append(await rows(1200));
    const counts: number[] = [];
    const s = store;
    const settling = s.settle();
    let done = false;
    void settling.then(() => {
      done = true;
    });
    while (!done || counts.length < 5) counts.push(await s.count({ projects: null }));
    expect(counts.every((c) => c === 1200)).toBe(true);
    expect(s.layout().sealed).toEqual([]);
  });

  it("counts every event once in reads that overlap a compaction's commit of a large segment", async () => {
    // DuckDB lets a scan that overlaps a commit see part of it. Reproduced outside the suite
    // with realistic wide events (2 to 8 rounds in 20 counted copied events twice, up to
    // 244,704 of 150,000); with the commit held apart from reads (Segments.exclusive), none.
    // This test keeps the invariant under the same shape of load: reads, side writes, commits.
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 1_000_000 });
    const s = store;
    const bad: string[] = [];
    let expected = 0;
    for (let round = 0; round < 3; round++) {
      await s.append(await rows(60_000, expected));
      expected += 60_000;
      let done = false;
      const settling = s.settle().finally(() => {
        done = true;
      });
      let side = 0;
      await Promise.all([
        ...Array.from({ length: 3 }, async () => {
          while (!done) {
            const [r] = await s.driver.all({ sql: "SELECT count(*) AS n, count(DISTINCT id) AS d FROM events", params: [] });
            if (Number(r?.n) !== expected || Number(r?.d) !== expected) bad.push(`round ${round}: ${r?.n}/${r?.d} of ${expected}`);
          }
        }),
        // Small writes to another table of the main file meanwhile, as a re-pricing run makes.
        (async () => {
          while (!done) {
            await s.driver.execute({ sql: "INSERT INTO meta VALUES (?, 'x')", params: [`side:${round}:${side++}`] });
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
      ]);
      await settling;
    }
    expect(bad).toEqual([]);
    expect(s.layout().sealed).toEqual([]);
  }, 120_000);

  it("replays a live segment left by a stop and compacts it at the next start", async () => {
    const { dir, path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 1000 });
    await store.append(await rows(40));
    const left = store.layout().current;
    await store.close();
    expect(existsSync(`${path}.live-${left}`)).toBe(true);
    store = await openTestLedger({ path, segmentRows: 1000 });
    expect(await store.count({ projects: null })).toBe(40);
    // Still deduplicated against the replayed segment.
    expect((await store.append(await rows(40))).duplicates).toHaveLength(40);
    await store.settle();
    expect(existsSync(`${path}.live-${left}`)).toBe(false);
    expect(await store.count({ projects: null })).toBe(40);
    expect((await readdir(dir)).filter((f) => f.includes(`.live-${left}`))).toEqual([]);
  });

  it("drops a segment whose events were copied before a crash, instead of counting them twice", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 1000 });
    await store.append(await rows(25));
    const n = store.layout().current;
    await store.close();
    store = null;
    // What a crash right after the copy's commit leaves: the events and the marker in the
    // main file, and the segment's file still on disk.
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run(`ATTACH '${path}.live-${n}' AS seg`);
    await c.run(`INSERT INTO events ${LIVE_EVENTS_SQL("seg.main.events")}`);
    await c.run(
      `INSERT INTO hourly BY NAME SELECT *, CAST(1 AS BIGINT) AS unit FROM (${hourlyRowsSql(`(${LIVE_EVENTS_SQL("seg.main.events")})`, new Set())})`,
    );
    await c.run(
      `INSERT INTO run_hours BY NAME SELECT *, CAST(1 AS BIGINT) AS unit FROM (${runRowsSql(`(${LIVE_EVENTS_SQL("seg.main.events")})`)})`,
    );
    await c.run(`INSERT INTO meta VALUES ('moved:${n}', 'test')`);
    await c.run("DETACH seg");
    c.closeSync();
    inst.closeSync();
    store = await openTestLedger({ path, segmentRows: 1000 });
    expect(existsSync(`${path}.live-${n}`)).toBe(false);
    expect(await store.count({ projects: null })).toBe(25);
    expect(await store.query(REQUESTS_BY_PROJECT, { projects: null })).toEqual([
      { project: "proj-c", requests: 9 },
      { project: "proj-a", requests: 8 },
      { project: "proj-b", requests: 8 },
    ]);
  });
});

describe("live segments written by an older release", () => {
  it("reads and compacts a segment whose tags are a MAP, as releases before tags-as-text wrote them", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 1000 });
    await store.append(await rows(25));
    const n = store.layout().current;
    await store.close();
    store = null;
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run(`ATTACH '${path}.live-${n}' AS seg`);
    await c.run(
      "ALTER TABLE seg.main.events ALTER tags TYPE MAP(VARCHAR, VARCHAR) USING CAST(CAST(tags AS JSON) AS MAP(VARCHAR, VARCHAR))",
    );
    await c.run("DETACH seg");
    c.closeSync();
    inst.closeSync();
    store = await openTestLedger({ path, segmentRows: 1000 });
    const byTag = { ...REQUESTS_BY_PROJECT, group_by: ["tag.queue" as const] };
    const before = await store.query(byTag, { projects: null });
    await store.settle();
    expect(existsSync(`${path}.live-${n}`)).toBe(false);
    expect(await store.query(byTag, { projects: null })).toEqual(before);
    expect(before.reduce((a, r) => a + Number(r.requests), 0)).toBe(25);
    expect(before.some((r) => r["tag.queue"] !== null)).toBe(true);
  });
});

describe("the main file attached afresh", () => {
  it("is detached and attached again after enough compacted rows, while reads and appends go on, and loses nothing", async () => {
    const { path } = await tempLedger();
    store = await openTestLedger({ path, segmentRows: 50, mainReattachRows: 100 });
    const s = store;
    const spec = REQUESTS_BY_PROJECT;
    const answers: Array<Promise<unknown>> = [];
    let appended = 0;
    for (let b = 0; b < 12; b++) {
      await s.append(await rows(40, 5_000 + b * 40));
      appended += 40;
      // Reads and key writes race with the compactions and re-attachments.
      answers.push(
        s.query(spec, { projects: null }),
        s.count({ projects: null }),
        s.saveApiKey({
          id: `key_${b}`,
          name: `k${b}`,
          hash: `sha256:${String(b).padStart(64, "0")}`,
          scopes: ["read"],
          projects: null,
          created_ms: Date.now(),
          revoked_ms: null,
          last_used_ms: null,
        }),
      );
      if (b % 4 === 3) await s.settle();
    }
    await Promise.all(answers);
    await s.settle();
    expect(s.layout().mainAttachments).toBeGreaterThanOrEqual(2);
    expect(await s.count({ projects: null })).toBe(appended);
    expect((await s.listApiKeys()).map((k) => k.id).sort()).toEqual(Array.from({ length: 12 }, (_, b) => `key_${b}`).sort());
    const per = await s.query(spec, { projects: null });
    expect(per.reduce((n, r) => n + Number(r.requests), 0)).toBe(appended);
    await s.close();
    store = await openTestLedger({ path });
    expect(await store.count({ projects: null })).toBe(appended);
  });
});
