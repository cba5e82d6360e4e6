import { expect, it } from "vitest";
import type { CounterStore } from "../src/counters/counter-store.js";

const ref = (key: string) => ({ key, fromMs: 0, toMs: 10 });

/**
 * What every counter store does, run against each (memory always, Redis where redis-server
 * is installed). `make` gets a clock the test moves.
 */
export function counterStoreContract(make: (now: () => number) => Promise<CounterStore>): void {
  let clock = 1_000_000;
  const now = () => clock;
  const fresh = async () => make(now);

  it("reserves over every line or none, and only under each cap", async () => {
    const c = await fresh();
    expect(
      await c.reserve(
        "a",
        [
          { ref: ref("x"), amount: 60n, cap: 100n },
          { ref: ref("y"), amount: 60n, cap: null },
        ],
        60_000,
      ),
    ).toMatchObject({
      ok: true,
    });
    const refused = await c.reserve(
      "b",
      [
        { ref: ref("y"), amount: 60n, cap: null },
        { ref: ref("x"), amount: 41n, cap: 100n },
      ],
      60_000,
    );
    expect(refused).toMatchObject({ ok: false, line: 1 });
    expect(await c.levels([ref("x"), ref("y")])).toEqual([
      { spent: 0n, reserved: 60n },
      { spent: 0n, reserved: 60n },
    ]);
    await c.close();
  });

  it("counts a settled call once, however often it is settled or reserved again", async () => {
    const c = await fresh();
    await c.reserve("evt_1", [{ ref: ref("x"), amount: 50n, cap: 100n }], 60_000);
    await c.reserve("evt_1", [{ ref: ref("x"), amount: 50n, cap: 100n }], 60_000);
    expect(await c.levels([ref("x")])).toEqual([{ spent: 0n, reserved: 50n }]);
    await c.record([{ key: "x", bucketMs: 5, amount: 30n }], ["evt_1"]);
    await c.record([], ["evt_1"]);
    await c.release(["evt_1"]);
    expect(await c.levels([ref("x")])).toEqual([{ spent: 30n, reserved: 0n }]);
    await c.close();
  });

  it("lets a reservation whose event never arrives expire", async () => {
    const c = await fresh();
    await c.reserve("lost", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000);
    expect(await c.reserve("next", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000)).toMatchObject({ ok: false });
    clock += 5_001;
    expect(await c.reserve("next", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000)).toMatchObject({ ok: true });
    await c.close();
  });

  it("counts only the buckets inside a window, lets one process claim a seed, and prunes old buckets and idle keys", async () => {
    const c = await fresh();
    expect(await c.claimSeed("b#1\u001f")).toBe(true);
    expect(await c.claimSeed("b#1\u001f")).toBe(false);
    await c.seed(
      "x",
      new Map([
        [1, 5n],
        [20, 7n],
      ]),
    );
    await c.seed("y", new Map([[1, 3n]]));
    expect(await c.levels([ref("x"), { key: "x", fromMs: 0, toMs: 30 }])).toEqual([
      { spent: 5n, reserved: 0n },
      { spent: 12n, reserved: 0n },
    ]);
    await c.prune(10, () => true);
    expect(await c.levels([{ key: "x", fromMs: 0, toMs: 30 }])).toEqual([{ spent: 7n, reserved: 0n }]);
    // y had only old spend and nothing reserved: it is gone.
    expect((await c.keys("")).sort()).toEqual(["x"]);
    await c.close();
  });

  it("retires every key of a prefix and its claim", async () => {
    const c = await fresh();
    expect(await c.claimSeed("b#1\u001f")).toBe(true);
    await c.seed("b#1\u001facme", new Map([[1, 5n]]));
    await c.reserve("r1", [{ ref: { key: "b#1\u001fglobex", fromMs: 0, toMs: 10 }, amount: 3n, cap: null }], 60_000);
    await c.seed("other", new Map([[1, 1n]]));
    await c.retire("b#1\u001f");
    expect((await c.keys("")).sort()).toEqual(["other"]);
    expect(await c.claimSeed("b#1\u001f")).toBe(true);
    await c.close();
  });

  it("keeps amounts past 2^32 nano-dollars exact", async () => {
    const c = await fresh();
    const big = 4_000_000_000_123n;
    await c.record([{ key: "big", bucketMs: 1, amount: big }], []);
    await c.record([{ key: "big", bucketMs: 1, amount: 1n }], []);
    expect(await c.levels([ref("big")])).toEqual([{ spent: big + 1n, reserved: 0n }]);
    await c.close();
  });
}
