import { afterEach, describe, expect, it } from "vitest";
import { spendSummary } from "../src/query/spend-summary.js";
import { type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const DAY = 86_400_000;
const NOW = Date.parse("2026-11-20T12:00:00Z"); // a Friday; the week began Monday the 16th

/** One event a day at 10:00 UTC from Nov 6 to Nov 19: $8 and $12 in turn; $100 on Nov 1; $4 today. */
function month(project = "proj-a") {
  const events = [];
  for (let i = 0; i < 14; i++)
    events.push(
      wireEvent({
        project,
        timestamp: new Date(Date.parse("2026-11-06T10:00:00Z") + i * DAY).toISOString(),
        cost_usd: i % 2 === 0 ? "8" : "12",
      }),
    );
  events.push(wireEvent({ project, timestamp: "2026-11-01T10:00:00Z", cost_usd: "100" }));
  events.push(wireEvent({ project, timestamp: "2026-11-20T10:00:00Z", cost_usd: "4" }));
  return events;
}

describe("the spend summary", () => {
  it("gives today, the week and the month beside the same stretch before, and a month-end forecast with an 80% range", async () => {
    t = await makeApp();
    expect((await ingest(t, month())).json().accepted).toBe(16);
    const s = await spendSummary(t.store, { projects: null }, "UTC", NOW);
    expect(s.today).toEqual({ from: "2026-11-20T00:00:00.000Z", to: "2026-11-21T00:00:00.000Z", cost_usd: "4", previous_cost_usd: "12" });
    expect(s.week).toMatchObject({ from: "2026-11-16T00:00:00.000Z", cost_usd: "44", previous_cost_usd: "52" });
    expect(s.month).toMatchObject({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
      cost_usd: "244",
      previous_cost_usd: "0",
    });
    // 244 so far + $10 a day over the 10.5 days left; the $100 of Nov 1 is before the 14 days the rate is learned from.
    // Spread: s² = 56/13 a day; ±1.2816·√(10.5·s² + 10.5²·s²/14) = ±11.40.
    expect(s.forecast).toEqual({
      month_end_usd: "349.00",
      low_usd: "337.60",
      high_usd: "360.40",
      daily_rate_usd: "10.00",
      history_days: 14,
    });
  });

  it("reads days in the reader's time zone, learns only from the days since spend began, and has no forecast before a full day", async () => {
    t = await makeApp();
    expect((await ingest(t, [wireEvent({ timestamp: "2026-11-19T23:30:00Z", cost_usd: "6" })])).json().accepted).toBe(1);
    // 23:30 UTC on the 19th is already the 20th in Paris: today there, yesterday in UTC.
    const paris = await spendSummary(t.store, { projects: null }, "Europe/Paris", NOW);
    expect(paris.today).toMatchObject({ from: "2026-11-19T23:00:00.000Z", cost_usd: "6" });
    expect(paris.forecast).toBeNull();
    const utc = await spendSummary(t.store, { projects: null }, "UTC", NOW);
    expect(utc.today.cost_usd).toBe("0");
    // One complete day of history, the 19th: $6 a day; with no spread to measure yet, the day itself stands in for it.
    expect(utc.forecast).toMatchObject({ month_end_usd: "69.00", daily_rate_usd: "6.00", history_days: 1 });
  });

  it("counts only what the key may read, over HTTP, and names a wrong time zone", async () => {
    t = await makeApp();
    const at = new Date(Date.now() - 1000).toISOString();
    await ingest(t, [
      wireEvent({ project: "proj-a", timestamp: at, cost_usd: "1.25" }),
      wireEvent({ project: "proj-b", timestamp: at, cost_usd: "2.5" }),
    ]);
    const all = await t.app.inject({ method: "GET", url: "/v1/spend/summary?time_zone=UTC", headers: auth(t.keys.readAll) });
    const onlyA = await t.app.inject({ method: "GET", url: "/v1/spend/summary?time_zone=UTC", headers: auth(t.keys.readA) });
    expect(all.json().today.cost_usd).toBe("3.75");
    expect(onlyA.json().today.cost_usd).toBe("1.25");
    const bad = await t.app.inject({ method: "GET", url: "/v1/spend/summary?time_zone=Mars/Olympus", headers: auth(t.keys.readAll) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: "CT_INVALID_QUERY", path: ["query", "time_zone"] });
  });
});
