import { describe, expect, it } from "vitest";
import { MemoryCounterStore } from "./memory-counter-store.js";

const ref = (key: string) => ({ key, fromMs: 0, toMs: 10 });

describe("MemoryCounterStore", () => {
  it("reserves over every line or none, and only under each cap", async () => {
    const c = new MemoryCounterStore();
    expect(
      await c.reserve(
        "a",
        [
          { ref: ref("x"), amount: 60n, cap: 100n },
          { ref: ref("y"), amount: 60n, cap: null },
        ],
        60_000,
      ),
    ).toMatchObject({ ok: true });
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
  });

  it("counts a settled call once, however often it is settled or reserved again", async () => {
    const c = new MemoryCounterStore();
    await c.reserve("evt_1", [{ ref: ref("x"), amount: 50n, cap: 100n }], 60_000);
    await c.reserve("evt_1", [{ ref: ref("x"), amount: 50n, cap: 100n }], 60_000);
    expect(await c.levels([ref("x")])).toEqual([{ spent: 0n, reserved: 50n }]);
    await c.record([{ key: "x", bucketMs: 5, amount: 30n }], ["evt_1"]);
    await c.record([], ["evt_1"]);
    await c.release(["evt_1"]);
    expect(await c.levels([ref("x")])).toEqual([{ spent: 30n, reserved: 0n }]);
  });

  it("lets a reservation whose event never arrives expire", async () => {
    let now = 1_000_000;
    const c = new MemoryCounterStore(() => now);
    await c.reserve("lost", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000);
    expect(await c.reserve("next", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000)).toMatchObject({ ok: false });
    now += 5_001;
    expect(await c.reserve("next", [{ ref: ref("x"), amount: 70n, cap: 100n }], 5_000)).toMatchObject({ ok: true });
  });

  it("counts only the buckets inside a window, and seeds a key once when asked", async () => {
    const c = new MemoryCounterStore();
    await c.seed(
      "x",
      new Map([
        [1, 5n],
        [20, 7n],
      ]),
      true,
    );
    await c.seed("x", new Map([[1, 100n]]), true);
    expect(await c.levels([ref("x"), { key: "x", fromMs: 0, toMs: 30 }])).toEqual([
      { spent: 5n, reserved: 0n },
      { spent: 12n, reserved: 0n },
    ]);
    await c.prune(10, () => true);
    expect(await c.levels([{ key: "x", fromMs: 0, toMs: 30 }])).toEqual([{ spent: 7n, reserved: 0n }]);
  });
});
