import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp } from "./helpers.js";

/** One input token of acme/unit costs $0.001, so every cost below is read off the token counts. */
const CONFIG = `
pricing:
  models:
    - provider: acme
      model: unit
      rates: { input_mtok: "1000" }
`;

let t: TestApp;
let n = 0;
function ev(ts: string, input: number, over: Record<string, unknown> = {}) {
  n++;
  return { id: `q${n}`, timestamp: ts, provider: "acme", model: "unit", usage: { input_tokens: input }, project: "proj-a", ...over };
}

beforeAll(async () => {
  t = await makeApp(CONFIG);
  const events = [
    // feature search: runs r1 (3 calls: $0.001+$0.002+$0.003 = $0.006), r2 ($0.010)
    ev("2026-11-20T10:00:00Z", 1, { feature: "search", agent_run_id: "r1", tags: { queue: "billing" }, latency_ms: 100, user_id: "alice" }),
    ev("2026-11-20T10:01:00Z", 2, { feature: "search", agent_run_id: "r1", tags: { queue: "billing" }, latency_ms: 200, user_id: "alice" }),
    ev("2026-11-20T10:02:00Z", 3, { feature: "search", agent_run_id: "r1", tags: { queue: "sales" }, latency_ms: 300, user_id: "bob" }),
    ev("2026-11-21T10:00:00Z", 10, { feature: "search", agent_run_id: "r2", latency_ms: 400, user_id: "bob", status: "error" }),
    // feature chat: runs r3 ($0.100), r4 ($0.200), r5 ($0.300), no-run call ($0.050)
    ev("2026-11-21T11:00:00Z", 100, { feature: "chat", agent_run_id: "r3", tags: { queue: "billing" }, user_id: "carol" }),
    ev("2026-11-22T11:00:00Z", 200, { feature: "chat", agent_run_id: "r4", user_id: "carol" }),
    ev("2026-11-23T11:00:00Z", 300, { feature: "chat", agent_run_id: "r5", user_id: "dave", environment: "staging" }),
    ev("2026-11-23T12:00:00Z", 50, { feature: "chat", user_id: "dave" }),
    // feature draft: one call, $0.007, another project
    ev("2026-11-24T12:00:00Z", 7, { feature: "draft", project: "proj-b", user_id: "erin" }),
    // Around the Berlin DST change (2026-03-29 01:00 UTC): 00:30 local on the 29th, then 00:30 local on the 30th.
    ev("2026-03-28T23:30:00Z", 1000, { feature: "dst" }),
    ev("2026-03-29T22:30:00Z", 2000, { feature: "dst" }),
  ];
  const r = await ingest(t, events);
  expect(r.json().accepted).toBe(events.length);
});
afterAll(async () => {
  await t.close();
});

async function query(body: Record<string, unknown>, key = t.keys.readAll) {
  const r = await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(key), payload: { ...RANGE, ...body } });
  if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${r.body}`);
  return r.json().rows as Array<Record<string, unknown>>;
}

describe("POST /v1/query", () => {
  it("sums cost exactly by a column", async () => {
    expect(await query({ metrics: ["cost_usd", "requests"], group_by: ["feature"] })).toEqual([
      { feature: "chat", cost_usd: "0.65", requests: 4 },
      { feature: "search", cost_usd: "0.016", requests: 4 },
      { feature: "draft", cost_usd: "0.007", requests: 1 },
    ]);
  });

  it("groups by a tag key, with events lacking the tag in a null group", async () => {
    expect(await query({ metrics: ["cost_usd"], group_by: ["tag.queue"], order_by: [{ metric: "cost_usd", desc: true }] })).toEqual([
      { "tag.queue": null, cost_usd: "0.567" },
      { "tag.queue": "billing", cost_usd: "0.103" },
      { "tag.queue": "sales", cost_usd: "0.003" },
    ]);
  });

  it("groups by two columns and computes token, error and derived metrics", async () => {
    const rows = await query({
      metrics: ["input_tokens", "errors", "error_rate", "cost_per_request_usd", "unique_users"],
      group_by: ["feature", "environment"],
      filters: [{ column: "feature", op: "eq", value: "search" }],
    });
    expect(rows).toEqual([
      {
        feature: "search",
        environment: null,
        input_tokens: 16,
        errors: 1,
        error_rate: 0.25,
        cost_per_request_usd: "0.004",
        unique_users: 2,
      },
    ]);
  });

  it("buckets by day in a time zone, across a DST change", async () => {
    const rows = await query({
      metrics: ["cost_usd"],
      grain: "day",
      time_zone: "Europe/Berlin",
      from: "2026-03-01T00:00:00Z",
      to: "2026-04-01T00:00:00Z",
    });
    expect(rows).toEqual([
      { bucket: "2026-03-29T00:00:00+01:00", cost_usd: "1" },
      { bucket: "2026-03-30T00:00:00+02:00", cost_usd: "2" },
    ]);
  });

  it("buckets by week (Monday) and month in UTC", async () => {
    // 2026-11-23 is a Monday: the 23rd and 24th open a new week.
    expect(await query({ metrics: ["requests"], grain: "week" })).toEqual([
      { bucket: "2026-11-16T00:00:00Z", requests: 6 },
      { bucket: "2026-11-23T00:00:00Z", requests: 3 },
    ]);
    expect(await query({ metrics: ["requests"], grain: "month", from: "2026-01-01T00:00:00Z" })).toEqual([
      { bucket: "2026-03-01T00:00:00Z", requests: 2 },
      { bucket: "2026-11-01T00:00:00Z", requests: 9 },
    ]);
  });

  it("filters with in, not, not_in, prefix, exists and not_exists on columns and tags", async () => {
    const count = async (filters: unknown[]) => (await query({ metrics: ["requests"], filters }))[0]?.requests;
    expect(await count([{ column: "user_id", op: "in", value: ["alice", "erin"] }])).toBe(3);
    expect(await count([{ column: "feature", op: "not", value: "chat" }])).toBe(5);
    expect(await count([{ column: "feature", op: "not_in", value: ["chat", "search"] }])).toBe(1);
    expect(
      await count([
        { column: "agent_run_id", op: "prefix", value: "r" },
        { column: "feature", op: "eq", value: "chat" },
      ]),
    ).toBe(3);
    expect(await count([{ column: "tag.queue", op: "exists" }])).toBe(4);
    expect(await count([{ column: "tag.queue", op: "not_exists" }])).toBe(5);
    expect(await count([{ column: "tag.queue", op: "eq", value: "billing" }])).toBe(3);
    expect(await count([{ column: "environment", op: "eq", value: "staging" }])).toBe(1);
  });

  it("folds groups past the limit into one (other) row that keeps the totals", async () => {
    const rows = await query({
      metrics: ["cost_usd", "requests"],
      group_by: ["user_id"],
      limit: 2,
      order_by: [{ metric: "cost_usd", desc: true }],
    });
    expect(rows).toEqual([
      { user_id: "dave", cost_usd: "0.35", requests: 2 },
      { user_id: "carol", cost_usd: "0.3", requests: 2 },
      { user_id: "(other)", cost_usd: "0.023", requests: 5 },
    ]);
  });

  it("can leave the other row out", async () => {
    const rows = await query({ metrics: ["cost_usd"], group_by: ["user_id"], limit: 1, other: false });
    expect(rows).toEqual([{ user_id: "dave", cost_usd: "0.35" }]);
  });

  it("gives the distribution of cost per agent run, by feature", async () => {
    const rows = await query({
      metrics: ["cost_usd"],
      group_by: ["feature"],
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "p99", "max", "mean", "count"] },
    });
    expect(rows).toEqual([
      {
        feature: "chat",
        cost_usd_p50: "0.2",
        cost_usd_p99: "0.3",
        cost_usd_max: "0.3",
        cost_usd_mean: "0.2",
        cost_usd_count: 3,
        cost_usd: "0.6",
      },
      {
        feature: "search",
        cost_usd_p50: "0.006",
        cost_usd_p99: "0.01",
        cost_usd_max: "0.01",
        cost_usd_mean: "0.008",
        cost_usd_count: 2,
        cost_usd: "0.016",
      },
    ]);
  });

  it("keeps a run of a million dollars or more exact in a distribution", async () => {
    // Two calls of 600M tokens at $0.001 each: one run of $1.2M, past the narrow 64-bit sum.
    const big = [
      ev("2026-11-20T09:00:00Z", 600_000_000, { project: "proj-big", feature: "batch", agent_run_id: "big1" }),
      ev("2026-11-20T09:01:00Z", 600_000_000, { project: "proj-big", feature: "batch", agent_run_id: "big1" }),
      ev("2026-11-20T09:02:00Z", 3, { project: "proj-big", feature: "batch", agent_run_id: "small" }),
      ev("2026-11-20T09:03:00Z", 5, { project: "proj-big", feature: "batch", agent_run_id: "small2" }),
    ];
    expect((await ingest(t, big)).json().accepted).toBe(4);
    const rows = await query({
      metrics: ["requests"],
      group_by: ["feature"],
      filters: [{ column: "project", op: "eq", value: "proj-big" }],
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["max", "p90", "min", "p50", "count"] },
    });
    expect(rows).toEqual([
      {
        feature: "batch",
        cost_usd_max: "1200000",
        cost_usd_p90: "1200000",
        cost_usd_min: "0.003",
        cost_usd_p50: "0.005",
        cost_usd_count: 3,
        requests: 4,
      },
    ]);
  });

  it("computes latency percentiles", async () => {
    const [row] = await query({
      metrics: ["latency_ms_p50", "latency_ms_max"],
      filters: [{ column: "feature", op: "eq", value: "search" }],
    });
    expect(row).toEqual({ latency_ms_p50: 250, latency_ms_max: 400 });
  });

  it("defaults to the last 30 days", async () => {
    const r = await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(t.keys.readAll), payload: { metrics: ["requests"] } });
    expect(r.statusCode).toBe(200);
  });

  it("rejects a bad query with every problem and its path", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: {
        metrics: ["cost", "requests"],
        group_by: ["tag.bad key"],
        grain: "minute",
        time_zone: "Mars/Olympus",
        filters: [{ column: "feature", op: "like", value: "x" }],
        limit: 0,
        colour: 1,
      },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe("CT_INVALID_QUERY");
    expect(r.json().issues.map((i: { path: unknown[] }) => i.path)).toEqual([
      ["colour"],
      ["metrics", 0],
      ["group_by", 0],
      ["grain"],
      ["time_zone"],
      ["filters", 0, "op"],
      ["limit"],
    ]);
  });

  it("binds tag keys and values instead of splicing them into SQL", async () => {
    const rows = await query({ metrics: ["requests"], filters: [{ column: "feature", op: "eq", value: "x' OR 1=1 --" }] });
    expect(rows).toEqual([{ requests: 0 }]);
  });
});
