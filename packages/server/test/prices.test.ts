import { Decimal } from "@costtrail/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp;

const CONFIG = `
version: 1
pricing:
  models:
    - provider: openai
      model: house-model
      rates: { input_mtok: "1.10", output_mtok: "4.40" }
`;

// 1,200 prompt tokens of which 1,024 cached, 300 completion tokens: 176 input, 1,024 cache read, 300 output.
const unpriced = (id: string, project: string, timestamp: string) => wireEvent({ id, project, model: "gpt-4o-hyperdrive", timestamp });

beforeAll(async () => {
  t = await makeApp(CONFIG);
  const events = [
    wireEvent({ id: "priced-1" }),
    unpriced("u-a1", "proj-a", "2026-11-03T08:00:00Z"),
    unpriced("u-a2", "proj-a", "2026-11-20T09:30:00Z"),
    unpriced("u-b1", "proj-b", "2026-11-01T00:00:00Z"),
    unpriced("u-b2", "proj-b", "2026-11-25T12:00:00Z"),
    unpriced("u-b3", "proj-b", "2026-11-26T12:00:00Z"),
    wireEvent({ id: "x-1", project: "proj-a", provider: "acme-labs", model: "zz" }),
  ];
  expect((await ingest(t, events)).json()).toMatchObject({ accepted: 7 });
});
afterAll(async () => {
  await t.close();
});

const get = (url: string, key = t.keys.readAll) => t.app.inject({ method: "GET", url, headers: auth(key) });

describe("GET /v1/prices", () => {
  it("lists each model's entry in force, by provider and at a date, with corrections and configured models", async () => {
    const all = (await get("/v1/prices")).json();
    expect(all.data_source).toBe("@pydantic/genai-prices@0.1.8");
    const byName = new Map(all.models.map((m: { provider: string; model: string }) => [`${m.provider}/${m.model}`, m]));
    expect(byName.get("openai/gpt-4o")).toMatchObject({
      source: "genai-prices@0.1.8",
      entry: { rates: { input_mtok: "2.5", output_mtok: "10" } },
    });
    expect(byName.get("openai/house-model")).toMatchObject({
      source: "config",
      entry: { rates: { input_mtok: "1.1", output_mtok: "4.4" } },
    });
    expect(byName.get("anthropic/claude-sonnet-4-0")).toMatchObject({
      entry: {
        rates: { input_mtok: { base: "3", tiers: [{ start: 200000, price: "6" }] } },
        corrections: [expect.objectContaining({ id: "anthropic-claude-sonnet-4-long-context", checked_on: "2026-12-01" })],
      },
    });
    const anthropic = (await get("/v1/prices?provider=anthropic")).json();
    expect(new Set(anthropic.models.map((m: { provider: string }) => m.provider))).toEqual(new Set(["anthropic"]));
    const before = (await get("/v1/prices?provider=openai&at=2025-05-01")).json();
    expect(before.at).toBe("2025-05-01T00:00:00.000Z");
    expect(before.models.find((m: { model: string }) => m.model === "o3").entry).toMatchObject({
      id: "genai-prices@0.1.8:openai/o3+fix:openai-o3-cached-input-before-cut",
      rates: { cache_read_mtok: "2.5" },
    });
  });

  it("refuses a bad date or parameter by name", async () => {
    const bad = await get("/v1/prices?at=yesterday");
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: "CT_INVALID_QUERY", issues: [{ path: ["query", "at"] }] });
    expect((await get("/v1/prices?model=x")).json()).toMatchObject({ issues: [{ path: ["query", "model"], code: "unknown_field" }] });
  });
});

describe("GET /v1/prices/{provider}/{model}", () => {
  it("shows every dated entry of the model that prices a name, the one in force marked, with sources", async () => {
    const r = (await get("/v1/prices/openai/o3-2025-04-16?at=2025-05-01")).json();
    expect(r.in_force.id).toBe("genai-prices@0.1.8:openai/o3+fix:openai-o3-cached-input-before-cut");
    expect(r.models).toHaveLength(1);
    expect(r.models[0].entries.map((e: { id: string }) => e.id)).toEqual([
      "genai-prices@0.1.8:openai/o3+fix:openai-o3-cached-input-before-cut",
      "genai-prices@0.1.8:openai/o3@2025-06-10",
    ]);
    expect(r.models[0].entries[0].corrections).toEqual([
      { id: "openai-o3-cached-input-before-cut", source_url: "https://platform.openai.com/docs/pricing", checked_on: "2026-12-01" },
    ]);
    const now = (await get("/v1/prices/openai/o3")).json();
    expect(now.in_force.id).toBe("genai-prices@0.1.8:openai/o3@2025-06-10");
  });

  it("takes names with colons and slashes, finds configured and corrections-only models, and 404s an unknown one", async () => {
    const ft = (await get(`/v1/prices/openai/${encodeURIComponent("ft:gpt-4.1-2025-04-14:acme::abc123")}`)).json();
    expect(ft.models[0]).toMatchObject({ model: "ft:gpt-4.1", source: "corrections" });
    expect((await get("/v1/prices/openai/house-model")).json().models[0]).toMatchObject({ source: "config" });
    const routed = await get("/v1/prices/openrouter/anthropic/claude-3.5-sonnet");
    expect(routed.statusCode).toBe(200);
    expect(routed.json().models[0].provider).toBe("openrouter");
    const missing = await get("/v1/prices/openai/no-such-model-xyz");
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: "CT_PRICE_NOT_FOUND", message: expect.stringContaining("openai/no-such-model-xyz") });
  });
});

describe("GET /v1/prices/unpriced", () => {
  it("lists models seen without a price with counts, first and last seen, and a marked estimate", async () => {
    const r = (await get("/v1/prices/unpriced")).json();
    expect(r.models.map((m: { provider: string; model: string }) => `${m.provider}/${m.model}`)).toEqual([
      "openai/gpt-4o-hyperdrive",
      "acme-labs/zz",
    ]);
    const [hyper, zz] = r.models;
    expect(hyper).toMatchObject({
      requests: 5,
      first_seen: "2026-11-01T00:00:00.000Z",
      last_seen: "2026-11-26T12:00:00.000Z",
      tokens: { input_tokens: 880, cache_read_tokens: 5120, output_tokens: 1500 },
      estimate: { estimate: true },
    });
    // The estimate is the basis model's price for exactly these tokens.
    const basis = (await get(`/v1/prices/${hyper.estimate.basis}?at=2026-11-26T12:00:00Z`)).json().in_force.rates;
    expect(hyper.estimate.basis).toMatch(/^openai\/gpt-4o/);
    const perM = (rate: string, n: number) => Decimal.parse(rate).mulInt(n).shift(6);
    const expected = Decimal.sum([
      perM(basis.input_mtok, 880),
      perM(basis.cache_read_mtok ?? basis.input_mtok, 5120),
      perM(basis.output_mtok, 1500),
    ]);
    expect(hyper.estimate.cost_usd).toBe(expected.normalize().toString());
    // No model of a provider the rate card does not know: no estimate rather than a guess.
    expect(zz).toMatchObject({ requests: 1, estimate: null });
  });

  it("is scoped like every read, and needs a read key", async () => {
    const a = (await get("/v1/prices/unpriced", t.keys.readA)).json();
    expect(a.models.map((m: { model: string; requests: number }) => [m.model, m.requests])).toEqual([
      ["gpt-4o-hyperdrive", 2],
      ["zz", 1],
    ]);
    expect(a.models[0]).toMatchObject({ first_seen: "2026-11-03T08:00:00.000Z", last_seen: "2026-11-20T09:30:00.000Z" });
    expect((await get("/v1/prices/unpriced", t.keys.readNone)).json().models).toEqual([]);
    expect((await get("/v1/prices/unpriced?from=2026-11-21T00:00:00Z")).json().models[0]).toMatchObject({ requests: 2 });
    expect((await get("/v1/prices", t.keys.ingest)).statusCode).toBe(403);
    expect((await t.app.inject({ method: "GET", url: "/v1/prices" })).statusCode).toBe(401);
  });
});

describe("provider-reported cost", () => {
  it("keeps the reported and the computed cost of each event, and queries their difference", async () => {
    // OpenRouter's anthropic/claude-3.5-sonnet: $3 in, $15 out per million.
    const routed = (id: string, prompt: number, completion: number, cost?: number) =>
      wireEvent({
        id,
        project: "proj-r",
        provider: "openrouter",
        model: "anthropic/claude-3.5-sonnet",
        raw_usage: { prompt_tokens: prompt, completion_tokens: completion, ...(cost !== undefined && { cost }) },
      });
    const events = [
      routed("or-1", 1000, 200, 0.0065), // computed 1000×3 + 200×15 = 0.006
      routed("or-2", 2000, 100, 0.008), // computed 2000×3 + 100×15 = 0.0075
      routed("or-3", 500, 50), // no reported cost: computed 500×3 + 50×15 = 0.00225
    ];
    expect((await ingest(t, events)).json()).toMatchObject({ accepted: 3 });
    const page = (await get("/v1/events?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&project=proj-r")).json();
    const byId = new Map(page.events.map((e: { id: string }) => [e.id, e]));
    expect(byId.get("or-1")).toMatchObject({ cost_usd: "0.0065", computed_cost_usd: "0.006", cost_source: "provider" });
    expect(byId.get("or-3")).toMatchObject({ cost_usd: "0.00225", computed_cost_usd: "0.00225", cost_source: "computed" });
    const q = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: {
        from: "2026-11-01T00:00:00Z",
        to: "2026-12-01T00:00:00Z",
        metrics: ["cost_usd", "provider_cost_usd", "provider_cost_difference_usd"],
        group_by: ["project"],
        filters: [{ column: "project", op: "in", value: ["proj-r", "proj-a"] }],
      },
    });
    expect(q.json().rows).toEqual([
      // 0.0065 + 0.008 + 0.00225; reported 0.0065 + 0.008; reported minus computed 0.0005 + 0.0005.
      { project: "proj-r", cost_usd: "0.01675", provider_cost_usd: "0.0145", provider_cost_difference_usd: "0.001" },
      // No reported cost in proj-a: unknown, not $0.
      { project: "proj-a", cost_usd: expect.any(String), provider_cost_usd: null, provider_cost_difference_usd: null },
    ]);
  });
});
