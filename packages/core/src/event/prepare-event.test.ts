import { describe, expect, it } from "vitest";
import { formatIssue } from "../errors.js";
import { RateCard } from "../pricing/rate-card.js";
import { prepareEvent } from "./prepare-event.js";

const card = new RateCard([
  { provider: "openai", model: "pricey", source: "test", prices: [{ rates: { input_mtok: "1", output_mtok: "600" } }] },
  { provider: "openai", model: "fine", source: "test", prices: [{ rates: { input_mtok: "0.000000000001" } }] },
]);

const event = {
  id: "e1",
  timestamp: "2026-11-20T10:00:00Z",
  provider: "openai",
  model: "pricey",
};

function problems(value: unknown, options = {}): string[] {
  const r = prepareEvent(value, card, ["events", 0], options);
  return r.ok ? [] : r.issues.map(formatIssue);
}

describe("prepareEvent", () => {
  it("rejects usage that prices above one million dollars, naming the computed cost and the limit", () => {
    expect(problems({ ...event, usage: { output_tokens: 1e12 } })).toEqual([
      "events[0].usage: prices at 600000000 USD with test:openai/pricey, more than 1000000 USD, the most one event may cost; check the counts",
    ]);
  });

  it("puts the computed-cost issue on raw_usage when the counts came from there", () => {
    const r = prepareEvent({ ...event, api: "openai.chat", raw_usage: { prompt_tokens: 0, completion_tokens: 2e9 } }, card);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => [i.code, i.path])).toEqual([["too_large", ["raw_usage"]]]);
  });

  it("rejects a computed cost above the limit even beside a caller's cost", () => {
    expect(problems({ ...event, usage: { output_tokens: 1e12 }, cost_usd: "1" })[0]).toContain("events[0].usage: prices at 600000000 USD");
  });

  it("accepts a computed cost of exactly one million dollars", () => {
    const r = prepareEvent({ ...event, usage: { input_tokens: 1e12 } }, card);
    expect(r.ok && r.value.price.cost?.toString()).toBe("1000000");
  });

  it("keeps a computed cost with more than twelve decimals exact", () => {
    const r = prepareEvent({ ...event, model: "fine", usage: { input_tokens: 3 } }, card);
    expect(r.ok && r.value.price.cost?.toString()).toBe("0.000000000000000003");
  });

  it("rejects a provider-reported cost above the limit on its raw_usage path", () => {
    const r = prepareEvent({ ...event, api: "openai.chat", raw_usage: { prompt_tokens: 10, completion_tokens: 1, cost: 2e6 } }, card, [
      "events",
      4,
    ]);
    expect(r).toMatchInlineSnapshot(`
      {
        "issues": [
          {
            "code": "too_large",
            "message": "must be at most 1000000 USD, the most one event may cost; got 2000000",
            "path": [
              "events",
              4,
              "raw_usage",
              "cost",
            ],
          },
        ],
        "ok": false,
      }
    `);
  });

  it("passes the time window through to validation", () => {
    expect(problems({ ...event, usage: { input_tokens: 1 } }, { nowMs: Date.parse("2026-11-01T00:00:00Z") })).toEqual([
      'events[0].timestamp: must be no later than 2026-11-02T00:00:00.000Z, 24h after the event was received; got "2026-11-20T10:00:00Z"',
    ]);
  });

  it("keeps the event time it parsed", () => {
    const r = prepareEvent({ ...event, usage: { input_tokens: 1 } }, card, [], { nowMs: Date.parse("2026-11-20T10:00:00Z") });
    expect(r.ok && r.value.timestampMs).toBe(Date.parse("2026-11-20T10:00:00Z"));
  });
});
