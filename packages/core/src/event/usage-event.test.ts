import { describe, expect, it } from "vitest";
import { formatIssue } from "../errors.js";
import { EVENT_FIELDS, validateEvent, validateEvents } from "./usage-event.js";

const good = {
  id: "evt_01J9Z",
  timestamp: "2026-11-20T10:00:00.123Z",
  project: "support-bot",
  environment: "prod",
  provider: "openai",
  model: "gpt-4o-2024-08-06",
  api: "openai.chat",
  raw_usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } },
  user_id: "u_42",
  customer_id: "acme",
  feature: "draft-reply",
  agent_run_id: "run_9",
  prompt_version: "v7",
  tags: { queue: "billing" },
  status: "ok",
  latency_ms: 812,
};

function problems(value: unknown): string[] {
  const r = validateEvent(value);
  return r.ok ? [] : r.issues.map(formatIssue);
}

describe("validateEvent", () => {
  it("accepts the wire example from DESIGN.md unchanged", () => {
    const r = validateEvent(good);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toEqual(good);
  });

  it("refuses text holding half of a surrogate pair, which a store could not keep unchanged, and takes whole pairs", () => {
    expect(problems({ ...good, feature: "a\ud800b", tags: { queue: "\udc00" } })).toEqual([
      "feature: must be valid Unicode text (it holds half of a surrogate pair)",
      "tags.queue: must be valid Unicode text (it holds half of a surrogate pair)",
    ]);
    expect(problems({ ...good, feature: "receipt 🧾 ü" })).toEqual([]);
    expect(problems({ ...good, raw_usage: { prompt_tokens: 1, completion_tokens: 1, "x\ud800": "y\udfff" } })).toEqual([
      "raw_usage: must be valid Unicode text throughout (a string in it holds half of a surrogate pair)",
    ]);
    expect(problems({ ...good, raw_usage: { prompt_tokens: 1, completion_tokens: 1, note: "a literal \\ud800 is fine" } })).toEqual([]);
  });

  it("accepts normalized usage buckets, units and a caller cost", () => {
    const r = validateEvent({
      id: "e1",
      timestamp: "2026-11-20T10:00:00+01:00",
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      usage: { input_tokens: 176, cache_read_tokens: 1024, output_tokens: 300 },
      units: { web_search_calls: 2 },
      cost_usd: "0.0042",
    });
    expect(r.ok).toBe(true);
  });

  it("rejects negative, fractional, NaN and absurd token counts with their paths", () => {
    const bad = {
      ...good,
      raw_usage: undefined,
      api: undefined,
      usage: { input_tokens: -1, output_tokens: 1.5, reasoning_tokens: Number.NaN, cache_read_tokens: 2e12 },
    };
    expect(problems(bad)).toMatchInlineSnapshot(`
      [
        "usage.input_tokens: must be a non-negative integer, got -1",
        "usage.output_tokens: must be a non-negative integer, got 1.5",
        "usage.reasoning_tokens: must be a non-negative integer, got NaN",
        "usage.cache_read_tokens: must be at most 1000000000000, got 2000000000000",
      ]
    `);
  });

  it("rejects unknown top-level fields and unknown usage buckets", () => {
    expect(
      problems({ ...good, prompt: "hello", raw_usage: undefined, api: undefined, usage: { input_tokens: 1, completion_tokens: 2 } }),
    ).toMatchInlineSnapshot(`
      [
        "prompt: is not a field of the usage event",
        "usage.completion_tokens: is not a known field; expected one of input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, input_audio_tokens, cache_read_audio_tokens, output_audio_tokens, input_image_tokens, output_image_tokens",
      ]
    `);
  });

  it("requires id, timestamp, provider, model and one of usage / raw_usage", () => {
    expect(problems({})).toMatchInlineSnapshot(`
      [
        "id: is required",
        "timestamp: is required",
        "provider: is required",
        "model: is required",
        "usage: is required unless raw_usage is given",
      ]
    `);
  });

  it("requires api with raw_usage", () => {
    expect(problems({ ...good, api: undefined })).toEqual([
      "api: is required with raw_usage; one of openai.chat, openai.responses, openai.embeddings, anthropic.messages, gemini, bedrock.converse, otel",
    ]);
  });

  it("rejects timestamps without a time zone or that are not dates", () => {
    expect(problems({ ...good, timestamp: "2026-11-20 10:00:00" })[0]).toContain("timestamp: must be an ISO-8601 time with a time zone");
    expect(problems({ ...good, timestamp: "2026-13-45T10:00:00Z" })[0]).toContain("timestamp:");
    expect(problems({ ...good, timestamp: "2026-02-30T10:00:00Z" })[0]).toContain("timestamp:");
    expect(problems({ ...good, timestamp: 1732096800 })[0]).toContain("timestamp:");
  });

  it("rejects an event time before 2020 by default, stating the floor", () => {
    expect(validateEvent({ ...good, timestamp: "1970-01-01T00:00:00Z" }, ["events", 2])).toMatchObject({
      ok: false,
      issues: [
        {
          code: "invalid_value",
          path: ["events", 2, "timestamp"],
          message: 'must be no earlier than 2020-01-01T00:00:00.000Z, got "1970-01-01T00:00:00Z"',
        },
      ],
    });
    expect(problems({ ...good, timestamp: "2020-01-01T00:00:00Z" })).toEqual([]);
  });

  it("takes the earliest event time from the options", () => {
    const minTimestampMs = Date.parse("2025-06-01T00:00:00Z");
    const r = validateEvent({ ...good, timestamp: "2025-05-31T23:59:59.999Z" }, [], { minTimestampMs });
    expect(r.ok ? [] : r.issues.map(formatIssue)).toEqual([
      'timestamp: must be no earlier than 2025-06-01T00:00:00.000Z, got "2025-05-31T23:59:59.999Z"',
    ]);
    expect(validateEvent({ ...good, timestamp: "2024-01-01T00:00:00Z" }).ok).toBe(true);
  });

  it("rejects an event time more than the allowed skew past now, stating the bound", () => {
    const nowMs = Date.parse("2026-11-20T10:00:00Z");
    const at = (timestamp: string, skew?: number) => {
      const r = validateEvent({ ...good, timestamp }, [], { nowMs, ...(skew !== undefined && { maxFutureSkewMs: skew }) });
      return r.ok ? [] : r.issues.map(formatIssue);
    };
    expect(at("2026-11-21T10:00:00Z")).toEqual([]);
    expect(at("2026-11-21T10:00:00.001Z")).toEqual([
      'timestamp: must be no later than 2026-11-21T10:00:00.000Z, 24h after the event was received; got "2026-11-21T10:00:00.001Z"',
    ]);
    expect(at("2026-11-20T11:31:00Z", 90 * 60_000)).toEqual([
      'timestamp: must be no later than 2026-11-20T11:30:00.000Z, 90m after the event was received; got "2026-11-20T11:31:00Z"',
    ]);
  });

  it("does not check the future bound without a present to compare with", () => {
    expect(validateEvent({ ...good, timestamp: "9999-12-31T23:59:59Z" }).ok).toBe(true);
  });

  it("reports an event time out of bounds beside the event's other problems", () => {
    expect(problems({ ...good, timestamp: "2019-12-31T23:59:59Z", feature: 3 })).toEqual([
      "feature: must be a string, got a number",
      'timestamp: must be no earlier than 2020-01-01T00:00:00.000Z, got "2019-12-31T23:59:59Z"',
    ]);
  });

  it("rejects over-long strings and over-full tag maps", () => {
    const tags = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expect(problems({ ...good, feature: "x".repeat(257), tags })).toEqual([
      "feature: must be at most 256 characters, got 257",
      "tags: must have at most 64 keys, got 65",
    ]);
    expect(problems({ ...good, tags: { "bad key": "v", ok: "y".repeat(300), n: 3 } })).toMatchInlineSnapshot(`
      [
        "tags["bad key"]: must be a tag key of letters, digits, '_', '-' or '.' starting with a letter or '_'",
        "tags.ok: must be at most 256 characters, got 300",
        "tags.n: must be a string, got a number",
      ]
    `);
  });

  it("rejects a cost that is a number, since money never travels as a float", () => {
    expect(problems({ ...good, cost_usd: 0.0042 })).toEqual(['cost_usd: must be a decimal string such as "0.0042", got a number']);
    expect(problems({ ...good, cost_usd: "-1" })).toEqual(["cost_usd: must not be negative, got -1"]);
  });

  it("accepts a caller cost of exactly one million dollars and of twelve decimal places", () => {
    expect(problems({ ...good, cost_usd: "1000000" })).toEqual([]);
    expect(problems({ ...good, cost_usd: "0.000000000001" })).toEqual([]);
  });

  it("rejects a caller cost above one million dollars, saying the limit", () => {
    expect(validateEvent({ ...good, cost_usd: "100000000000000000000" }, ["events", 0])).toMatchInlineSnapshot(`
      {
        "issues": [
          {
            "code": "too_large",
            "message": "must be at most 1000000 USD, the most one event may cost; got "100000000000000000000"",
            "path": [
              "events",
              0,
              "cost_usd",
            ],
          },
        ],
        "ok": false,
      }
    `);
    expect(problems({ ...good, cost_usd: "1e40" })).toEqual([
      'cost_usd: must be at most 1000000 USD, the most one event may cost; got "1e40"',
    ]);
    expect(problems({ ...good, cost_usd: "1000000.000000000001" })[0]).toContain("must be at most 1000000 USD");
  });

  it("rejects a caller cost with more than twelve decimal places", () => {
    expect(validateEvent({ ...good, cost_usd: "0.0000000000001" })).toMatchObject({
      ok: false,
      issues: [{ code: "invalid_format", path: ["cost_usd"], message: 'must have at most 12 decimal places, got "0.0000000000001"' }],
    });
  });

  it("rejects a wrong status and wrong outcome types", () => {
    expect(problems({ ...good, status: "failed", streamed: "yes", attempt: 0.5, latency_ms: -3 })).toMatchInlineSnapshot(`
      [
        "status: must be one of ok, error, blocked, aborted, got "failed"",
        "attempt: must be a non-negative integer, got 0.5",
        "latency_ms: must be a non-negative number, got -3",
        "streamed: must be a boolean, got a string",
      ]
    `);
  });

  it("never throws on junk", () => {
    for (const junk of [null, undefined, 3, "x", [], [good], { id: {} }, { tags: [] }, { usage: null, raw_usage: null }]) {
      expect(() => validateEvent(junk)).not.toThrow();
      expect(validateEvent(junk).ok).toBe(false);
    }
  });

  it("lists every field of the schema", () => {
    expect(EVENT_FIELDS).toContain("agent_run_id");
    expect(EVENT_FIELDS).toContain("raw_usage");
    expect(EVENT_FIELDS).toContain("ttft_ms");
  });
});

describe("validateEvents", () => {
  it("rejects event 3 of 5 with events[3] paths and keeps the other four", () => {
    const batch = [
      good,
      { ...good, id: "b" },
      { ...good, id: "c" },
      { ...good, id: "d", usage: { output_tokens: -5 }, raw_usage: undefined },
      { ...good, id: "e" },
    ];
    const r = validateEvents(batch);
    expect(r.accepted.map((a) => a.index)).toEqual([0, 1, 2, 4]);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]?.issues.map(formatIssue)).toEqual(["events[3].usage.output_tokens: must be a non-negative integer, got -5"]);
  });

  it("applies the time window to every event of the batch", () => {
    const r = validateEvents([good, { ...good, id: "late", timestamp: "2026-12-01T00:00:00Z" }], {
      nowMs: Date.parse("2026-11-20T10:00:00Z"),
    });
    expect(r.accepted.map((a) => a.index)).toEqual([0]);
    expect(r.rejected[0]?.issues[0]?.path).toEqual(["events", 1, "timestamp"]);
  });
});
