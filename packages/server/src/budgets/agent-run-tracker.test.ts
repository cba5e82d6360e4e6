import { Decimal, type PreparedEvent, validateAgentCeilings } from "@costtrail/core";
import { describe, expect, it } from "vitest";
import { AgentRunTracker } from "./agent-run-tracker.js";

function tracker(ceilings: unknown[], now: () => number = Date.now) {
  const parsed = validateAgentCeilings(ceilings);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return new AgentRunTracker(() => parsed.value, now);
}

function event(id: string, cost: string, extra: Record<string, unknown> = {}, tags: Record<string, string> = {}): PreparedEvent {
  return {
    event: { id, provider: "openai", model: "gpt-4o", agent_run_id: "run_1", tags: { agent: "researcher", ...tags }, ...extra },
    timestampMs: Date.now(),
    usage: { buckets: { input_tokens: 100, output_tokens: 50 }, units: {} },
    price: { status: "priced", cost: Decimal.parse(cost) },
  } as unknown as PreparedEvent;
}

const call = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  runId: "run_1",
  agent: "researcher",
  depth: 0,
  attempt: 1,
  estimateNano: 0n,
  inputTokens: 0,
  ...over,
});

describe("AgentRunTracker", () => {
  it("stops a run whose recorded cost passed its ceiling, and refuses its next call", () => {
    const t = tracker([{ agent: "researcher", max_cost_usd: "0.05" }]);
    expect(t.admit(call("a"))).toBeNull();
    t.observe(event("a", "0.03"));
    expect(t.admit(call("b"))).toBeNull();
    t.observe(event("b", "0.03"));
    expect(t.admit(call("c"))).toMatchObject({ ceiling: "max_cost_usd", used: "0.06", max: "0.05" });
    expect(t.standing("run_1")).toMatchObject({ cost_usd: "0.06", llm_calls: 2, tokens: 300, stopped: { ceiling: "max_cost_usd" } });
  });

  it("refuses a call whose estimate, with the calls in flight, would pass the cost ceiling", () => {
    const t = tracker([{ agent: "researcher", max_cost_usd: "0.05" }]);
    expect(t.admit(call("a", { estimateNano: 30_000_000n }))).toBeNull();
    expect(t.admit(call("b", { estimateNano: 30_000_000n }))).toMatchObject({ ceiling: "max_cost_usd", used: "0.06" });
  });

  it("counts tool calls, retries and depth from the events and checks, and stops at wall time", () => {
    let now = 1_000_000;
    const t = tracker([{ agent: "researcher", max_tool_calls: 1, max_retries: 1, max_depth: 1, max_wall_time: "10s" }], () => now);
    expect(t.admit(call("a", { attempt: 2 }))).toBeNull();
    expect(t.admit(call("b", { attempt: 2 }))).toMatchObject({ ceiling: "max_retries", used: "2", max: "1" });
    const deep = tracker([{ agent: "researcher", max_depth: 1 }], () => now);
    expect(deep.admit(call("a", { depth: 2 }))).toMatchObject({ ceiling: "max_depth", used: "2" });
    const tools = tracker([{ agent: "researcher", max_tool_calls: 1 }], () => now);
    tools.observe(event("t1", "0", { operation: "tool_call" }));
    tools.observe(event("t2", "0", { operation: "tool_call" }));
    expect(tools.admit(call("c"))).toMatchObject({ ceiling: "max_tool_calls", used: "2" });
    const slow = tracker([{ agent: "researcher", max_wall_time: "10s" }], () => now);
    expect(slow.admit(call("a"))).toBeNull();
    now += 10_001;
    expect(slow.admit(call("b"))).toMatchObject({ ceiling: "max_wall_time", max: "10s" });
  });

  it("tallies nothing for an agent without ceilings, or an event refused before it was sent", () => {
    const t = tracker([{ agent: "researcher", max_llm_calls: 1 }]);
    expect(t.admit(call("a", { agent: "other" }))).toBeNull();
    t.observe(event("x", "0", { status: "blocked" }));
    expect(t.admit(call("y"))).toBeNull();
    expect(t.standing("run_1")?.llm_calls).toBe(1);
  });
});
