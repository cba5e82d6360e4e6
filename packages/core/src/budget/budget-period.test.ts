import { describe, expect, it } from "vitest";
import { budgetBucket, budgetWindow } from "./budget-period.js";

const iso = (w: { startMs: number; endMs: number }) => [new Date(w.startMs).toISOString(), new Date(w.endMs).toISOString()];

describe("budgetWindow", () => {
  it("gives a calendar day in the budget's zone", () => {
    const b = { period: "day", rolling: false, time_zone: "Europe/Berlin" } as const;
    expect(iso(budgetWindow(b, Date.parse("2026-07-10T22:30:00Z")))).toEqual(["2026-07-10T22:00:00.000Z", "2026-07-11T22:00:00.000Z"]);
  });

  it("gives the 23-hour day when Berlin springs forward", () => {
    const b = { period: "day", rolling: false, time_zone: "Europe/Berlin" } as const;
    expect(iso(budgetWindow(b, Date.parse("2026-03-29T12:00:00Z")))).toEqual(["2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z"]);
  });

  it("starts Santiago's spring-forward day at 01:00, where its midnight does not exist", () => {
    const b = { period: "day", rolling: false, time_zone: "America/Santiago" } as const;
    // 2023-09-03: clocks go from 00:00 (-04) to 01:00 (-03).
    expect(iso(budgetWindow(b, Date.parse("2023-09-03T12:00:00Z")))).toEqual(["2023-09-03T04:00:00.000Z", "2023-09-04T03:00:00.000Z"]);
    // Three minutes before the jump it is still 23:57 on the 2nd, inside the 2nd's window.
    expect(iso(budgetWindow(b, Date.parse("2023-09-03T03:57:00Z")))).toEqual(["2023-09-02T04:00:00.000Z", "2023-09-03T04:00:00.000Z"]);
  });

  it("starts weeks on Monday and months on the first", () => {
    const week = { period: "week", rolling: false, time_zone: "UTC" } as const;
    const month = { period: "month", rolling: false, time_zone: "America/New_York" } as const;
    // 2026-12-02 is a Wednesday.
    expect(iso(budgetWindow(week, Date.parse("2026-12-02T10:00:00Z")))).toEqual(["2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z"]);
    expect(iso(budgetWindow(month, Date.parse("2026-12-01T03:00:00Z")))).toEqual(["2026-11-01T04:00:00.000Z", "2026-12-01T05:00:00.000Z"]);
  });

  it("gives a rolling window that starts at the hour of its oldest spend", () => {
    const b = { period: "day", rolling: true, time_zone: "UTC" } as const;
    expect(iso(budgetWindow(b, Date.parse("2026-12-02T10:25:00Z")))).toEqual(["2026-12-01T10:00:00.000Z", "2026-12-02T10:25:00.000Z"]);
    expect(new Date(budgetBucket(b, Date.parse("2026-12-02T10:25:00Z"))).toISOString()).toBe("2026-12-02T10:00:00.000Z");
  });
});
