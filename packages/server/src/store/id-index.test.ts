import { describe, expect, it } from "vitest";
import { IdIndex, fingerprint } from "./id-index.js";

const HOUR = 3_600_000;
const T0 = Date.parse("2026-11-20T00:00:00Z");

describe("IdIndex", () => {
  it("finds an id's event time by its fingerprint, across growth of its table", () => {
    const index = new IdIndex(24 * HOUR, 1_000_000, Number.NEGATIVE_INFINITY);
    for (let i = 0; i < 5000; i++) index.add(fingerprint(`evt_${i}`), T0 + i, T0);
    expect(index.size).toBe(5000);
    expect(index.get(fingerprint("evt_0"))).toBe(T0);
    expect(index.get(fingerprint("evt_4999"))).toBe(T0 + 4999);
    expect(index.get(fingerprint("evt_5000"))).toBeUndefined();
  });

  it("drops whole hours once they leave the window, and then says it may miss their events", () => {
    const index = new IdIndex(24 * HOUR, 1_000_000, Number.NEGATIVE_INFINITY);
    index.add(fingerprint("old"), T0 - 5 * HOUR, T0);
    index.add(fingerprint("next-hour"), T0 + HOUR, T0 + HOUR);
    expect(index.mayMiss(T0 - 6 * HOUR)).toBe(false);
    index.add(fingerprint("late"), T0 + 25 * HOUR, T0 + 25 * HOUR);
    expect(index.get(fingerprint("old"))).toBeUndefined();
    expect(index.get(fingerprint("next-hour"))).toBe(T0 + HOUR);
    // The dropped hour held an event timestamped T0 - 5 h: anything at or before that may be in the ledger unindexed.
    expect(index.mayMiss(T0 - 5 * HOUR)).toBe(true);
    expect(index.mayMiss(T0 - 5 * HOUR + 1)).toBe(false);
  });

  it("drops the oldest hours early when it holds more ids than allowed", () => {
    const index = new IdIndex(24 * HOUR, 100, Number.NEGATIVE_INFINITY);
    for (let h = 0; h < 5; h++) for (let i = 0; i < 40; i++) index.add(fingerprint(`h${h}-${i}`), T0 + h * HOUR + i, T0 + h * HOUR);
    expect(index.size).toBeLessThanOrEqual(100);
    expect(index.get(fingerprint("h4-39"))).toBe(T0 + 4 * HOUR + 39);
    expect(index.get(fingerprint("h0-0"))).toBeUndefined();
    expect(index.mayMiss(T0 + 39)).toBe(true);
  });

  it("keeps to maxIds, and its tables small, when every id arrives within one hour", () => {
    // A month backfilled in minutes: 200,000 ids in one hour against a bound of 80,000.
    const index = new IdIndex(24 * HOUR, 80_000, Number.NEGATIVE_INFINITY);
    for (let i = 0; i < 200_000; i++) index.add(fingerprint(`evt_${i}`), T0 + i, T0);
    expect(index.size).toBeLessThanOrEqual(80_000 + 10_000);
    expect(index.size).toBeGreaterThanOrEqual(80_000 - 10_000);
    // Tables of at most 10,000 ids, at most half full: 32,768 slots of 16 bytes each.
    expect(index.bytes).toBeLessThanOrEqual(9 * 32_768 * 16);
    expect(index.get(fingerprint("evt_199999"))).toBe(T0 + 199_999);
    expect(index.get(fingerprint("evt_0"))).toBeUndefined();
    // What was dropped is checked against the ledger by time range instead.
    expect(index.mayMiss(T0 + 100_000)).toBe(true);
    expect(index.mayMiss(T0 + 199_999)).toBe(false);
  });

  it("gives distinct ids distinct 52-bit fingerprints", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(fingerprint(`evt_${i}`));
    expect(seen.size).toBe(100_000);
    for (const fp of [...seen].slice(0, 100)) expect(Number.isSafeInteger(fp) && fp >= 0 && fp < 2 ** 52).toBe(true);
  });
});
