import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Spool } from "./spool.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "costtrail-spool-test-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const events = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `e${from + i}`, timestamp: "2026-12-01T00:00:00Z", provider: "p", model: "m", usage: {} }));

it("hands out batches oldest first, one claimant at a time", async () => {
  const a = new Spool(dir, 1e9);
  await a.append(events(0, 2));
  await a.append(events(2, 2));
  const b = new Spool(dir, 1e9);
  const first = await a.claimOldest();
  const second = await b.claimOldest();
  expect(first?.events.map((e) => e.id)).toEqual(["e0", "e1"]);
  expect(second?.events.map((e) => e.id)).toEqual(["e2", "e3"]);
  expect(await b.claimOldest()).toBeNull();
  a.close();
  b.close();
});

it("takes back a claim of this process's pid that no open spool holds, as after a restart under the same pid", async () => {
  const before = new Spool(dir, 1e9);
  await before.append(events(0, 3));
  const claimed = await before.claimOldest();
  expect(claimed?.events).toHaveLength(3);
  before.close(); // the process that claimed it is gone; the new one has the same pid
  const after = new Spool(dir, 1e9);
  expect(after.hasPendingSync()).toBe(true);
  expect((await after.claimOldest())?.events.map((e) => e.id)).toEqual(["e0", "e1", "e2"]);
  after.close();
});

it("splits a claimed batch into parts that keep its place in the order", async () => {
  const s = new Spool(dir, 1e9);
  await s.append(events(0, 5));
  await s.append(events(5, 1));
  const big = await s.claimOldest();
  await s.split(big as NonNullable<typeof big>, 2);
  const ids: string[] = [];
  for (let b = await s.claimOldest(); b; b = await s.claimOldest()) {
    ids.push(...b.events.map((e) => e.id));
    await s.remove(b);
  }
  expect(ids).toEqual(["e0", "e1", "e2", "e3", "e4", "e5"]);
  expect(await readdir(dir)).toEqual([]);
  s.close();
});
