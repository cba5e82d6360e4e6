import { afterEach, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp, rebuildHourly, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function read(app: TestApp, method: "GET" | "POST", url: string, payload?: unknown) {
  return app.app.inject({ method, url, headers: auth(app.keys.readAll), ...(payload !== undefined && { payload }) });
}

function costed(cost: string, over: Record<string, unknown> = {}) {
  return wireEvent({ raw_usage: undefined, api: undefined, usage: { input_tokens: 10 }, cost_usd: cost, ...over });
}

describe("money an event may carry", () => {
  it("refuses costs past a million dollars or twelve decimals with a field error, keeps the good events, and every read still works", async () => {
    t = await makeApp();
    const r = await ingest(t, [
      costed("100000000000000000000"),
      costed("1e40"),
      costed("1000000.000000000001"),
      costed("0.0000000000001"),
      costed("12.5"),
      costed("1000000"),
    ]);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.accepted).toBe(2);
    expect(
      body.rejected.map((x: { index: number; errors: Array<{ path: unknown[]; code: string }> }) => [
        x.index,
        x.errors[0]?.path,
        x.errors[0]?.code,
      ]),
    ).toEqual([
      [0, ["events", 0, "cost_usd"], "too_large"],
      [1, ["events", 1, "cost_usd"], "too_large"],
      [2, ["events", 2, "cost_usd"], "too_large"],
      [3, ["events", 3, "cost_usd"], "invalid_format"],
    ]);
    expect(body.rejected[0].errors[0].message).toMatch(/1000000/);
    const q = await read(t, "POST", "/v1/query", { metrics: ["cost_usd", "cost_per_request_usd"], ...RANGE });
    expect(q.json().rows).toEqual([{ cost_usd: "1000012.5", cost_per_request_usd: "500006.25" }]);
    expect((await read(t, "GET", `/v1/events?from=${RANGE.from}`)).statusCode).toBe(200);
    expect((await read(t, "GET", `/v1/export?format=csv&from=${RANGE.from}`)).statusCode).toBe(200);
  });

  it("sums a million events at the largest allowed cost exactly, in totals, per run and in exports", async () => {
    t = await makeApp();
    // Half the rows at $999,999.999999999999 (the 64-bit column's largest value), half at exactly
    // $1,000,000 (stored in the residual column), each with a sub-picodollar residual. Written
    // by SQL, a million rows in a second; how the writer splits a cost into the two columns is
    // tested through ingest in chunk-writer.test.ts.
    await t.store.driver.execute({
      sql: `INSERT INTO events (id, ts, received_at, project, provider, model, price_status, status, agent_run_id, feature, cost_usd, cost_residual)
        SELECT 'max-' || i, TIMESTAMP '2026-11-20 10:00:00' + to_microseconds(i), TIMESTAMP '2026-11-20 10:00:00', 'proj-a', 'acme', 'big',
          'priced', 'ok', 'run-' || (i % 2), 'f', CASE WHEN i % 2 = 0 THEN 999999.999999999999 ELSE 0 END,
          CASE WHEN i % 2 = 0 THEN 0.000000000000999999 ELSE 1000000.000000000000999999 END
        FROM range(1000000) t(i)`,
      params: [],
    });
    await rebuildHourly(t.store.driver);
    const q = await read(t, "POST", "/v1/query", {
      metrics: ["cost_usd", "requests", "cost_per_request_usd"],
      group_by: ["feature"],
      ...RANGE,
    });
    expect(q.statusCode).toBe(200);
    // 500,000 × (1,000,000 − 10⁻¹⁸) + 500,000 × (1,000,000 + 0.000000000000999999); the mean rounds to 12 places.
    expect(q.json().rows).toEqual([
      { feature: "f", cost_usd: "1000000000000.000000499999", requests: 1_000_000, cost_per_request_usd: "1000000" },
    ]);
    const runs = await read(t, "POST", "/v1/query", {
      metrics: ["requests"],
      group_by: ["feature"],
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["max", "min", "mean"] },
      ...RANGE,
    });
    expect(runs.json().rows).toEqual([
      {
        feature: "f",
        requests: 1_000_000,
        cost_usd_max: "500000000000.0000004999995",
        cost_usd_min: "499999999999.9999999999995",
        cost_usd_mean: "500000000000.00000025",
      },
    ]);
    const page = await read(t, "GET", `/v1/events?from=${RANGE.from}&limit=2`);
    expect(page.json().events.map((e: { cost_usd: string }) => e.cost_usd)).toEqual([
      "1000000.000000000000999999",
      "999999.999999999999999999",
    ]);
    // The last millisecond of rows: 1,000 of them, half at each value.
    const csv = await read(t, "GET", "/v1/export?format=csv&from=2026-11-20T10:00:00.999Z&to=2026-11-20T10:00:01Z");
    expect(csv.headers["x-costtrail-rows"]).toBe("1000");
    const costs = csv.body
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(",").find((c) => c.startsWith("1000000.") || c.startsWith("999999.")));
    expect(new Set(costs)).toEqual(new Set(["1000000.000000000000999999", "999999.999999999999999999"]));
  }, 60_000);
});

describe("event times", () => {
  it("refuses a time more than a day ahead or before 2020, and takes a real backfill", async () => {
    t = await makeApp();
    const ahead = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const r = await ingest(t, [
      wireEvent({ timestamp: ahead }),
      wireEvent({ timestamp: "2019-12-31T23:59:59Z" }),
      wireEvent({ timestamp: "2021-03-04T05:06:07Z" }),
      wireEvent({ timestamp: new Date(Date.now() + 3_600_000).toISOString() }),
    ]);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((x: { index: number; errors: Array<{ path: unknown[] }> }) => [x.index, x.errors[0]?.path])).toEqual([
      [0, ["events", 0, "timestamp"]],
      [1, ["events", 1, "timestamp"]],
    ]);
    expect(body.rejected[0].errors[0].message).toMatch(/no later than .*24h after the event was received/);
    expect(body.rejected[1].errors[0].message).toMatch(/no earlier than 2020-01-01T00:00:00.000Z/);
  });

  it("takes its bounds from server.max_future_skew and server.min_timestamp", async () => {
    t = await makeApp("version: 1\nserver:\n  max_future_skew: 5m\n  min_timestamp: 2024-01-01\n");
    const r = await ingest(t, [
      wireEvent({ timestamp: new Date(Date.now() + 3_600_000).toISOString() }),
      wireEvent({ timestamp: "2023-06-01T00:00:00Z" }),
      wireEvent({ timestamp: "2024-06-01T00:00:00Z" }),
    ]);
    expect(r.json().accepted).toBe(1);
    expect(r.json().rejected.map((x: { index: number }) => x.index)).toEqual([0, 1]);
  });
});
