import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp;

beforeAll(async () => {
  t = await makeApp();
  const events = [
    ...Array.from({ length: 3 }, (_, i) => wireEvent({ id: `a${i}`, project: "proj-a", feature: "fa" })),
    ...Array.from({ length: 5 }, (_, i) => wireEvent({ id: `b${i}`, project: "proj-b", feature: "fb" })),
    wireEvent({ id: "none", project: undefined, feature: "fn" }),
  ];
  expect((await ingest(t, events)).json().accepted).toBe(9);
});
afterAll(async () => {
  await t.close();
});

const escapeAttempt = [{ column: "project", op: "in", value: ["proj-a", "proj-b"] }];

describe("a read key limited to projects sees nothing else, on every read path", () => {
  it("POST /v1/query: totals, groups, the (other) fold and distributions", async () => {
    const q = async (key: string, body: Record<string, unknown>) =>
      (await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(key), payload: { ...RANGE, ...body } })).json().rows;
    expect(await q(t.keys.readAll, { metrics: ["requests"] })).toEqual([{ requests: 9 }]);
    expect(await q(t.keys.readA, { metrics: ["requests"] })).toEqual([{ requests: 3 }]);
    expect(await q(t.keys.readA, { metrics: ["requests"], filters: escapeAttempt })).toEqual([{ requests: 3 }]);
    expect(await q(t.keys.readA, { metrics: ["requests"], group_by: ["project"] })).toEqual([{ project: "proj-a", requests: 3 }]);
    expect(await q(t.keys.readA, { metrics: ["requests"], group_by: ["feature"], limit: 1 })).toEqual([{ feature: "fa", requests: 3 }]);
    expect(await q(t.keys.readA, { metrics: ["cost_usd"], group_by: ["feature"], distribution: { per: "agent_run_id" } })).toEqual([
      expect.objectContaining({ feature: "fa", cost_usd: "0.01416" }),
    ]);
    expect(await q(t.keys.readNone, { metrics: ["requests"] })).toEqual([{ requests: 0 }]);
  });

  it("GET /v1/events", async () => {
    const list = async (key: string, qs = "") =>
      (await t.app.inject({ method: "GET", url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}${qs}`, headers: auth(key) })).json();
    expect((await list(t.keys.readAll)).events).toHaveLength(9);
    const a = await list(t.keys.readA);
    expect(a.events.map((e: { id: string }) => e.id).sort()).toEqual(["a0", "a1", "a2"]);
    expect((await list(t.keys.readA, "&project=proj-b")).events).toEqual([]);
    expect((await list(t.keys.readNone)).events).toEqual([]);
  });

  it("GET /v1/export", async () => {
    const exp = async (key: string) => {
      const r = await t.app.inject({
        method: "GET",
        url: `/v1/export?format=ndjson&from=${RANGE.from}&to=${RANGE.to}`,
        headers: auth(key),
      });
      expect(r.statusCode).toBe(200);
      return r.body
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).id as string)
        .sort();
    };
    expect(await exp(t.keys.readAll)).toHaveLength(9);
    expect(await exp(t.keys.readA)).toEqual(["a0", "a1", "a2"]);
    expect(await exp(t.keys.readNone)).toEqual([]);
  });

  it("admin routes refuse read keys", async () => {
    const r = await t.app.inject({ method: "GET", url: "/v1/keys", headers: auth(t.keys.readAll) });
    expect(r.statusCode).toBe(403);
    const ok = await t.app.inject({ method: "GET", url: "/v1/keys", headers: auth(t.keys.admin) });
    expect(ok.statusCode).toBe(200);
    // The allow-list schema sends no hashes.
    expect(ok.body).not.toContain("sha256:");
  });
});

describe("events and export", () => {
  it("pages through events newest first with a cursor, without repeats or gaps", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await t.app.inject({
        method: "GET",
        url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}&limit=4${cursor ? `&cursor=${cursor}` : ""}`,
        headers: auth(t.keys.readAll),
      });
      const page = r.json();
      seen.push(...page.events.map((e: { id: string }) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
  });

  it("returns each event with its buckets, exact cost and rate card entry", async () => {
    const r = await t.app.inject({
      method: "GET",
      url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}&limit=1&feature=fa`,
      headers: auth(t.keys.readAll),
    });
    expect(r.json().events[0]).toMatchObject({
      project: "proj-a",
      input_tokens: 176,
      cache_read_tokens: 1024,
      output_tokens: 300,
      cost_usd: "0.00472",
      rate_card_entry: "genai-prices@0.1.8:openai/gpt-4o",
      tags: { queue: "billing" },
      raw_usage: { prompt_tokens: 1200 },
    });
  });

  it("rejects an unknown parameter and a forged cursor", async () => {
    const bad = await t.app.inject({ method: "GET", url: "/v1/events?colour=red", headers: auth(t.keys.readAll) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0].path).toEqual(["query", "colour"]);
    const forged = await t.app.inject({ method: "GET", url: "/v1/events?cursor=abc", headers: auth(t.keys.readAll) });
    expect(forged.statusCode).toBe(400);
  });

  it("exports CSV with exact money and Parquet that DuckDB reads back", async () => {
    const csv = await t.app.inject({
      method: "GET",
      url: `/v1/export?format=csv&from=${RANGE.from}&to=${RANGE.to}&project=proj-a`,
      headers: auth(t.keys.readAll),
    });
    const lines = csv.body.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]?.split(",").slice(0, 3)).toEqual(["id", "timestamp", "project"]);
    expect(csv.body).toContain(",0.00472,");
    const pq = await t.app.inject({
      method: "GET",
      url: `/v1/export?format=parquet&from=${RANGE.from}&to=${RANGE.to}`,
      headers: auth(t.keys.readAll),
    });
    expect(pq.statusCode).toBe(200);
    expect(pq.headers["content-type"]).toBe("application/vnd.apache.parquet");
    expect(pq.rawPayload.subarray(0, 4).toString()).toBe("PAR1");
    expect(pq.headers["x-costtrail-rows"]).toBe("9");
  });
});
