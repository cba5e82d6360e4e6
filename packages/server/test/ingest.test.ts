import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, gzip, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp;
beforeEach(async () => {
  t = await makeApp();
});
afterEach(async () => {
  await t.close();
});

async function totals(key = t.keys.readAll) {
  const r = await t.app.inject({
    method: "POST",
    url: "/v1/query",
    headers: auth(key),
    payload: { metrics: ["cost_usd", "requests"], ...RANGE },
  });
  return r.json().rows[0] as { cost_usd: string | null; requests: number };
}

describe("POST /v1/events", () => {
  it("accepts DESIGN.md's wire event, prices it exactly and stores it", async () => {
    const r = await ingest(t, [wireEvent()]);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ accepted: 1, duplicates: [], conflicts: [], unpriced: 0, rejected: [] });
    expect(await totals()).toEqual({ cost_usd: "0.00472", requests: 1 });
  });

  it("accepts already-normalized usage buckets and a caller's cost", async () => {
    const r = await ingest(t, [
      wireEvent({ raw_usage: undefined, api: undefined, usage: { input_tokens: 176, cache_read_tokens: 1024, output_tokens: 300 } }),
      wireEvent({
        model: "my-finetune",
        provider: "acme",
        raw_usage: undefined,
        api: undefined,
        usage: { input_tokens: 5 },
        cost_usd: "0.125",
      }),
    ]);
    expect(r.json().accepted).toBe(2);
    expect(await totals()).toEqual({ cost_usd: "0.12972", requests: 2 });
  });

  it("records a cost the provider reported as provider-reported, with ours beside it", async () => {
    const e = wireEvent({
      raw_usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 }, cost: 0.0049 },
    });
    expect((await ingest(t, [e])).json().accepted).toBe(1);
    const r = await t.app.inject({ method: "GET", url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}`, headers: auth(t.keys.readAll) });
    expect(r.json().events[0]).toMatchObject({ cost_usd: "0.0049", computed_cost_usd: "0.00472", cost_source: "provider" });
  });

  it("keeps the good events when one is bad, naming the bad one's index and fields", async () => {
    const events = [
      wireEvent(),
      wireEvent(),
      wireEvent(),
      wireEvent({ usage: { output_tokens: -5 }, raw_usage: undefined, api: undefined }),
      wireEvent(),
    ];
    const r = await ingest(t, events);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      accepted: 4,
      duplicates: [],
      conflicts: [],
      unpriced: 0,
      rejected: [
        {
          index: 3,
          errors: [{ code: "negative", path: ["events", 3, "usage", "output_tokens"], message: "must be a non-negative integer, got -5" }],
        },
      ],
    });
    expect((await totals()).requests).toBe(4);
  });

  it("answers 400 with every event's errors when all are rejected", async () => {
    const r = await ingest(t, [{ id: "x" }, wireEvent({ timestamp: "yesterday" })]);
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.code).toBe("CT_INVALID_EVENT");
    expect(body.rejected.map((x: { index: number }) => x.index)).toEqual([0, 1]);
    expect(body.rejected[1].errors[0].path).toEqual(["events", 1, "timestamp"]);
  });

  it("does not double-count a retried batch, and counts as accepted only what it wrote", async () => {
    const batch = [wireEvent(), wireEvent(), wireEvent()];
    expect((await ingest(t, batch)).json()).toMatchObject({ accepted: 3, duplicates: [] });
    const fresh = wireEvent();
    const again = await ingest(t, [fresh, ...batch]);
    expect(again.json()).toMatchObject({
      accepted: 1,
      duplicates: batch.map((e, i) => ({ index: i + 1, id: e.id })),
      conflicts: [],
    });
    expect((await totals()).requests).toBe(4);
  });

  it("counts an id repeated inside one batch once", async () => {
    const e = wireEvent();
    const r = await ingest(t, [e, e]);
    expect(r.json()).toMatchObject({ accepted: 1, duplicates: [{ index: 1, id: e.id }], conflicts: [] });
    expect((await totals()).requests).toBe(1);
  });

  it("lists an id resent with other content as a conflict and keeps the first event", async () => {
    const first = wireEvent({ feature: "first" });
    expect((await ingest(t, [first])).json().accepted).toBe(1);
    const otherContent = { ...first, feature: "second" };
    const otherTime = { ...first, timestamp: "2026-11-21T10:00:00Z" };
    const r = await ingest(t, [wireEvent(), otherContent, otherTime, first]);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      accepted: 1,
      duplicates: [{ index: 3, id: first.id }],
      conflicts: [
        { index: 1, id: first.id, existing_timestamp: "2026-11-20T10:00:00.123Z" },
        { index: 2, id: first.id, existing_timestamp: "2026-11-20T10:00:00.123Z" },
      ],
    });
    expect(r.json().conflicts[0].message).toMatch(/other content is already in the ledger/);
    const list = await t.app.inject({
      method: "GET",
      url: `/v1/events?from=${RANGE.from}&to=${RANGE.to}&feature=first`,
      headers: auth(t.keys.readAll),
    });
    expect(list.json().events.map((e: { id: string }) => e.id)).toEqual([first.id]);
    expect((await totals()).requests).toBe(2);
  });

  it("counts a resend serialized another way as a duplicate: keys reordered, another form of the same instant", async () => {
    const e = wireEvent({ timestamp: "2026-11-20T10:00:00Z", tags: { a: "1", b: "2" } });
    expect((await ingest(t, [e])).json().accepted).toBe(1);
    const reordered = Object.fromEntries(Object.entries({ ...e, tags: { b: "2", a: "1" } }).reverse());
    const r = await ingest(t, [
      reordered,
      { ...e, timestamp: "2026-11-20T10:00:00.000Z" },
      { ...e, timestamp: "2026-11-20T11:00:00+01:00" },
    ]);
    expect(r.json()).toMatchObject({ accepted: 0, conflicts: [], duplicates: [{ index: 0 }, { index: 1 }, { index: 2 }] });
  });

  it("keeps ids apart by project: the same id in another project is another event", async () => {
    const e = wireEvent({ project: "proj-a" });
    expect((await ingest(t, [e])).json().accepted).toBe(1);
    const r = await ingest(t, [{ ...e, project: "proj-b", feature: "other" }]);
    expect(r.json()).toMatchObject({ accepted: 1, duplicates: [], conflicts: [] });
    expect((await totals()).requests).toBe(2);
  });

  it("never tells a project-limited key about another project's events", async () => {
    const elsewhere = wireEvent({ project: "proj-b", timestamp: "2026-11-25T10:00:00Z" });
    expect((await ingest(t, [elsewhere])).json().accepted).toBe(1);
    // The same id from a key limited to proj-a, which stamps its project: a new event of proj-a.
    const { project: _, ...unstamped } = elsewhere;
    const r = await ingest(t, [{ ...unstamped, timestamp: "2026-11-26T10:00:00Z" }], t.keys.ingestA);
    expect(r.json()).toEqual({ accepted: 1, duplicates: [], conflicts: [], unpriced: 0, rejected: [] });
  });

  it("judges a repeated id inside one batch against the first, as a conflict when its content differs", async () => {
    const e = wireEvent();
    const r = await ingest(t, [e, { ...e, latency_ms: 1 }]);
    expect(r.json()).toMatchObject({ accepted: 1, duplicates: [], conflicts: [{ index: 1, id: e.id }] });
  });

  it("stores an unknown model as unpriced, with a null cost, and counts it", async () => {
    const r = await ingest(t, [wireEvent({ provider: "acme", model: "llama-internal" })]);
    expect(r.json().unpriced).toBe(1);
    const q = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["cost_usd", "unpriced_requests"], ...RANGE },
    });
    expect(q.json().rows).toEqual([{ cost_usd: null, unpriced_requests: 1 }]);
  });

  it("reads NDJSON and rejects only the line that is not JSON", async () => {
    const body = `${JSON.stringify(wireEvent())}\n{not json}\n\n${JSON.stringify(wireEvent())}\n`;
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "application/x-ndjson" },
      payload: body,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().accepted).toBe(2);
    expect(r.json().rejected).toEqual([{ index: 1, errors: [expect.objectContaining({ code: "invalid_format", path: ["events", 1] })] }]);
  });

  it("reads a gzip-encoded body", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "application/json", "content-encoding": "gzip" },
      payload: gzip(JSON.stringify([wireEvent(), wireEvent()])),
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().accepted).toBe(2);
  });

  it("stamps the project of a key limited to one project, and rejects other projects", async () => {
    const r = await ingest(t, [wireEvent({ project: undefined }), wireEvent({ project: "proj-b" })], t.keys.ingestA);
    expect(r.json().accepted).toBe(1);
    expect(r.json().rejected[0]).toEqual({
      index: 1,
      errors: [{ code: "invalid_value", path: ["events", 1, "project"], message: "this key may only ingest into proj-a" }],
    });
    expect((await totals(t.keys.readA)).requests).toBe(1);
  });
});

describe("bad requests", () => {
  it("answers malformed JSON with 400 CT_INVALID_JSON", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "application/json" },
      payload: '[{"id": ',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: "CT_INVALID_JSON", path: ["body"] });
    expect(r.json().message).toContain("not valid JSON");
  });

  it("answers a wrong content type with 415", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "text/plain" },
      payload: "hello",
    });
    expect(r.statusCode).toBe(415);
    expect(r.json().code).toBe("CT_UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers a body that is not a list or object with 400", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "application/json" },
      payload: "42",
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe("CT_INVALID_BODY");
  });

  it("answers a corrupt gzip body with 400", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.ingest), "content-type": "application/json", "content-encoding": "gzip" },
      payload: Buffer.from("definitely not gzip"),
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe("CT_INVALID_BODY");
  });

  it("answers a missing, malformed or unknown key with 401 and a wrong scope with 403", async () => {
    const body = JSON.stringify([wireEvent()]);
    const none = await t.app.inject({ method: "POST", url: "/v1/events", headers: { "content-type": "application/json" }, payload: body });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: "CT_UNAUTHORIZED", path: ["headers", "authorization"] });
    const bad = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth("ct_notarealkeynotarealkey00"), "content-type": "application/json" },
      payload: body,
    });
    expect(bad.statusCode).toBe(401);
    const basic = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { authorization: "Basic abc", "content-type": "application/json" },
      payload: body,
    });
    expect(basic.statusCode).toBe(401);
    const readKey = await t.app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { ...auth(t.keys.readAll), "content-type": "application/json" },
      payload: body,
    });
    expect(readKey.statusCode).toBe(403);
    expect(readKey.json().code).toBe("CT_FORBIDDEN");
    const ingestKeyReading = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.ingest),
      payload: { metrics: ["requests"] },
    });
    expect(ingestKeyReading.statusCode).toBe(403);
    expect((await totals()).requests).toBe(0);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const r = await t.app.inject({ method: "GET", url: "/v2/nothing" });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: "CT_NOT_FOUND" });
  });
});

describe("limits", () => {
  it("answers an oversize body with 413, plain or gzip-compressed", async () => {
    const small = await makeApp("server:\n  body_limit_bytes: 2000\n");
    try {
      const big = JSON.stringify(Array.from({ length: 20 }, () => wireEvent()));
      const plain = await small.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { ...auth(small.keys.ingest), "content-type": "application/json" },
        payload: big,
      });
      expect(plain.statusCode).toBe(413);
      expect(plain.json().code).toBe("CT_PAYLOAD_TOO_LARGE");
      // Compressed it fits the limit; decompressed it does not, and decompressed is what counts.
      const zipped = gzip(big);
      expect(zipped.length).toBeLessThan(2000);
      const z = await small.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { ...auth(small.keys.ingest), "content-type": "application/json", "content-encoding": "gzip" },
        payload: zipped,
      });
      expect(z.statusCode).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe("backpressure", () => {
  it("answers 503 with Retry-After when the writer is behind, and stores nothing from the shed request", async () => {
    const tiny = await makeApp("server:\n  max_pending_events: 5\n");
    try {
      const a = Array.from({ length: 4 }, () => wireEvent());
      const b = Array.from({ length: 4 }, () => wireEvent());
      const [first, second] = await Promise.all([ingest(tiny, a), ingest(tiny, b)]);
      expect(first.statusCode).toBe(200);
      expect(second.statusCode).toBe(503);
      expect(second.headers["retry-after"]).toBe("1");
      expect(second.json()).toMatchObject({ code: "CT_OVERLOADED" });
      const r = await tiny.app.inject({
        method: "POST",
        url: "/v1/query",
        headers: auth(tiny.keys.readAll),
        payload: { metrics: ["requests"], ...RANGE },
      });
      expect(r.json().rows).toEqual([{ requests: 4 }]);
      // The retry is accepted once the writer has caught up.
      expect((await ingest(tiny, b)).json()).toMatchObject({ accepted: 4, duplicates: [] });
    } finally {
      await tiny.close();
    }
  });
});
