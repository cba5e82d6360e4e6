import { describe, expect, it } from "vitest";
import { localToInstant, offsetAt, offsetSegments } from "./time-zone.js";

describe("time zone offsets", () => {
  it("finds Berlin's spring-forward transition to the minute", () => {
    const from = Date.parse("2026-03-01T00:00:00Z");
    const to = Date.parse("2026-04-01T00:00:00Z");
    expect(offsetSegments("Europe/Berlin", from, to)).toEqual([
      { untilMs: Date.parse("2026-03-29T01:00:00Z"), offsetMin: 60 },
      { untilMs: Number.POSITIVE_INFINITY, offsetMin: 120 },
    ]);
  });

  it("finds New York's fall-back transition", () => {
    const segs = offsetSegments("America/New_York", Date.parse("2026-10-15T00:00:00Z"), Date.parse("2026-11-15T00:00:00Z"));
    expect(segs).toEqual([
      { untilMs: Date.parse("2026-11-01T06:00:00Z"), offsetMin: -240 },
      { untilMs: Number.POSITIVE_INFINITY, offsetMin: -300 },
    ]);
  });

  it("handles half-hour zones and zones without DST", () => {
    expect(offsetAt("Asia/Kolkata", Date.parse("2026-06-01T00:00:00Z"))).toBe(330);
    expect(offsetSegments("Asia/Kolkata", 0, Date.parse("1971-01-01T00:00:00Z"))).toEqual([
      { untilMs: Number.POSITIVE_INFINITY, offsetMin: 330 },
    ]);
    expect(offsetSegments("UTC", 0, 1e12)).toEqual([{ untilMs: Number.POSITIVE_INFINITY, offsetMin: 0 }]);
  });

  it("maps a local midnight back to its instant on both sides of a transition", () => {
    expect(new Date(localToInstant("Europe/Berlin", Date.parse("2026-03-29T00:00:00Z"))).toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(new Date(localToInstant("Europe/Berlin", Date.parse("2026-03-30T00:00:00Z"))).toISOString()).toBe("2026-03-29T22:00:00.000Z");
  });
});
