import { afterEach, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

describe("what the explorer asks of the API", () => {
  it("lists the tag keys in use in a range, the most used first, within the key's projects", async () => {
    t = await makeApp();
    await ingest(t, [
      wireEvent({ tags: { queue: "a", tier: "gold" } }),
      wireEvent({ tags: { queue: "b" } }),
      wireEvent({ tags: {} }),
      wireEvent({ project: "proj-b", tags: { secret_b: "x", queue: "c" } }),
      wireEvent({ timestamp: "2026-10-01T00:00:00Z", tags: { old: "1" } }),
    ]);
    const get = (key: string, qs = `from=${RANGE.from}&to=${RANGE.to}`) =>
      t!.app.inject({ method: "GET", url: `/v1/tags?${qs}`, headers: auth(key) });
    expect((await get(t.keys.readAll)).json()).toEqual({
      tags: [
        { key: "queue", events: 3 },
        { key: "secret_b", events: 1 },
        { key: "tier", events: 1 },
      ],
    });
    expect((await get(t.keys.readA)).json().tags.map((x: { key: string }) => x.key)).toEqual(["queue", "tier"]);
    const bad = await get(t.keys.readAll, "limit=0");
    expect(bad.json()).toMatchObject({ code: "CT_INVALID_QUERY", path: ["query", "limit"] });
  });

  it("answers a query as CSV when asked: the JSON answer's rows and exact decimals, a formula-looking group value kept as text", async () => {
    t = await makeApp();
    await ingest(t, [
      wireEvent({ feature: "=HYPERLINK(1)", cost_usd: "0.000123456789" }),
      wireEvent({ feature: "draft, reply", cost_usd: "2" }),
      wireEvent({ feature: "draft, reply", cost_usd: "1.5", timestamp: "2026-11-21T10:00:00Z" }),
    ]);
    const body = {
      metrics: ["cost_usd", "requests"],
      group_by: ["feature"],
      grain: "day",
      ...RANGE,
      order_by: [{ column: "bucket" }, { column: "feature" }],
    };
    const json = await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(t.keys.readAll), payload: body });
    const csv = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { ...auth(t.keys.readAll), accept: "text/csv" },
      payload: body,
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="costtrail-query.csv"');
    expect(json.json().rows).toHaveLength(3);
    expect(csv.body).toBe(
      [
        "bucket,feature,cost_usd,requests",
        "2026-11-20T00:00:00Z,'=HYPERLINK(1),0.000123456789,1",
        '2026-11-20T00:00:00Z,"draft, reply",2,1',
        '2026-11-21T00:00:00Z,"draft, reply",1.5,1',
        "",
      ].join("\r\n"),
    );
    const wrong = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { ...auth(t.keys.readAll), accept: "text/csv" },
      payload: { metrics: [] },
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ code: "CT_INVALID_QUERY" });
  });
});

describe("one event by id", () => {
  it("answers every field and the raw usage, narrowed by its time; 404 for another project's or an unknown id", async () => {
    t = await makeApp();
    const e = wireEvent({ id: "evt_one", timestamp: "2026-11-20T10:00:00.123Z" });
    await ingest(t, [e, wireEvent({ id: "evt_b", project: "proj-b" })]);
    const get = (url: string, key = t!.keys.readAll) => t!.app.inject({ method: "GET", url, headers: auth(key) });
    const one = await get("/v1/events/evt_one?at=2026-11-20T10:00:00.123Z");
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({
      id: "evt_one",
      timestamp: "2026-11-20T10:00:00.123Z",
      raw_usage: e.raw_usage,
      tags: { queue: "billing" },
    });
    expect((await get("/v1/events/evt_one")).json().id).toBe("evt_one");
    expect((await get("/v1/events/evt_one?at=2026-11-20T10:00:00.124Z")).statusCode).toBe(404);
    const hidden = await get("/v1/events/evt_b", t.keys.readA);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json()).toMatchObject({ code: "CT_NOT_FOUND", path: ["params", "id"] });
    expect((await get("/v1/events/evt_one?at=yesterday")).json()).toMatchObject({ code: "CT_INVALID_QUERY", path: ["query", "at"] });
  });
});
