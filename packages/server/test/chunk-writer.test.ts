import { afterEach, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp;
afterEach(async () => {
  await t.close();
});

/** Each stored event's exact cost, sorted. */
async function storedCosts(app: TestApp): Promise<string[]> {
  const list = await app.app.inject({
    method: "GET",
    url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}`,
    headers: auth(app.keys.readAll),
  });
  return list
    .json()
    .events.map((e: { cost_usd: string }) => e.cost_usd)
    .sort();
}

async function totalCost(app: TestApp): Promise<unknown> {
  const q = await app.app.inject({
    method: "POST",
    url: "/v1/query",
    headers: auth(app.keys.readAll),
    payload: { metrics: ["cost_usd"], ...RANGE },
  });
  return q.json().rows;
}

/** Every value written straight into DuckDB's vectors must read back exactly. */
describe("values round-trip through the ledger", () => {
  it("keeps strings, nulls, large counts, large and tiny costs, times and tags exact", async () => {
    t = await makeApp();
    const tricky = 'quote " comma , newline \n tab \t emoji 🧾 ü — and \\ backslash';
    const events = [
      wireEvent({
        id: "edge-1",
        timestamp: "2026-11-20T23:59:59.999Z",
        // Cheap enough that a trillion input tokens stay under the per-event cost limit.
        model: "gpt-4o-mini",
        feature: tricky,
        user_id: "",
        tags: { a: "1", "b.c": tricky, empty: "" },
        raw_usage: undefined,
        api: undefined,
        usage: { input_tokens: 999_999_999_999, output_tokens: 1, cache_read_tokens: 0 },
        cost_usd: "123456.123456789012",
        attempt: 7,
        latency_ms: 0.25,
        streamed: true,
        cache_hit: false,
        batch: true,
      }),
      wireEvent({
        id: "edge-2",
        timestamp: "2026-11-01T00:00:00Z",
        project: "proj-a",
        environment: undefined,
        customer_id: undefined,
        feature: undefined,
        agent_run_id: undefined,
        prompt_version: undefined,
        tags: undefined,
        latency_ms: undefined,
        status: undefined,
        raw_usage: undefined,
        api: undefined,
        usage: { input_tokens: 1 },
        cost_usd: "0.000000000001",
      }),
    ];
    expect((await ingest(t, events)).json()).toMatchObject({ accepted: 2, rejected: [] });
    const r = await t.app.inject({ method: "GET", url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}`, headers: auth(t.keys.readAll) });
    const [first, second] = r.json().events;
    expect(first).toMatchObject({
      id: "edge-1",
      timestamp: "2026-11-20T23:59:59.999Z",
      feature: tricky,
      user_id: "",
      tags: { a: "1", "b.c": tricky, empty: "" },
      input_tokens: 999_999_999_999,
      output_tokens: 1,
      cost_usd: "123456.123456789012",
      cost_source: "caller_estimate",
      attempt: 7,
      latency_ms: 0.25,
      streamed: true,
      cache_hit: false,
      batch: true,
    });
    expect(first.cache_read_tokens).toBe(0);
    expect(second).toEqual(
      expect.objectContaining({
        id: "edge-2",
        timestamp: "2026-11-01T00:00:00.000Z",
        input_tokens: 1,
        cost_usd: "0.000000000001",
        status: "ok",
      }),
    );
    for (const k of ["environment", "customer_id", "feature", "agent_run_id", "tags", "latency_ms", "attempt", "streamed"])
      expect(second[k]).toBeUndefined();
    const q = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["cost_usd", "input_tokens"], ...RANGE },
    });
    expect(q.json().rows).toEqual([{ cost_usd: "123456.123456789013", input_tokens: 1_000_000_000_000 }]);
  });

  it("keeps a computed cost with more than 12 decimals exact, through the residual column", async () => {
    // A rate of $0.0000001 per million tokens: one token costs 1e-13 dollars.
    t = await makeApp(`version: 1
pricing:
  models:
    - provider: acme
      model: tiny-rate
      rates: { input_mtok: "0.0000001", output_mtok: "3.0000003" }
`);
    const events = [
      wireEvent({ provider: "acme", model: "tiny-rate", raw_usage: undefined, api: undefined, usage: { input_tokens: 1 } }),
      wireEvent({
        provider: "acme",
        model: "tiny-rate",
        raw_usage: undefined,
        api: undefined,
        usage: { input_tokens: 3, output_tokens: 7 },
      }),
    ];
    expect((await ingest(t, events)).json()).toMatchObject({ accepted: 2, rejected: [] });
    expect(await storedCosts(t)).toEqual(["0.0000000000001", "0.0000210000024"]);
    expect(await totalCost(t)).toEqual([{ cost_usd: "0.0000210000025" }]);
  });

  it("keeps a cost of exactly the per-event limit, a million dollars, exact", async () => {
    t = await makeApp();
    const events = ["1000000", "999999.999999999999", "0.000000000001"].map((cost, i) =>
      wireEvent({ id: `big-cost-${i}`, raw_usage: undefined, api: undefined, usage: { input_tokens: 1 }, cost_usd: cost }),
    );
    expect((await ingest(t, events)).json().accepted).toBe(3);
    expect(await totalCost(t)).toEqual([{ cost_usd: "2000000" }]);
    expect(await storedCosts(t)).toEqual(["0.000000000001", "1000000", "999999.999999999999"]);
  });

  it("writes batches larger than one chunk", async () => {
    t = await makeApp();
    const events = Array.from({ length: 5000 }, (_, i) =>
      wireEvent({ id: `big-${i}`, user_id: i % 2 ? `u${i}` : undefined, tags: i % 3 ? { n: String(i) } : undefined }),
    );
    expect((await ingest(t, events)).json().accepted).toBe(5000);
    const q = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["requests", "unique_users"], filters: [{ column: "tag.n", op: "exists" }], ...RANGE },
    });
    expect(q.json().rows).toEqual([{ requests: 3333, unique_users: 1667 }]);
  });
});
