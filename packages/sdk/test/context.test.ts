import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Costtrail, MemoryExporter } from "../src/index.js";
import { FakeProvider } from "./fake-provider.js";

let fake: FakeProvider;
beforeAll(async () => {
  fake = await FakeProvider.start();
});
afterAll(() => fake.close());

function setup() {
  const exporter = new MemoryExporter();
  const ct = new Costtrail({ exporter, project: "support-bot", environment: "prod" });
  const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }));
  const ask = () => openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  /** The exported events, once every call's body has been read. */
  const events = async () => {
    await new Promise((r) => setTimeout(r, 20));
    await ct.flush();
    return exporter.events;
  };
  return { ct, ask, events, exporter };
}

describe("withContext", () => {
  it("attaches attribution to calls after awaits inside it, and to none outside", async () => {
    const { ct, ask, events } = setup();
    await ct.withContext(
      {
        userId: "u_7",
        customerId: "acme",
        team: "support",
        costCenter: "cc-410",
        feature: "draft-reply",
        promptVersion: "v7",
        experiment: "exp-tone",
        variant: "b",
        tags: { queue: "billing" },
      },
      async () => {
        await new Promise((r) => setTimeout(r, 5));
        await ask();
      },
    );
    await ask();
    const [inside, outside] = await events();
    expect(inside).toMatchObject({
      project: "support-bot",
      environment: "prod",
      user_id: "u_7",
      customer_id: "acme",
      team: "support",
      cost_center: "cc-410",
      feature: "draft-reply",
      prompt_version: "v7",
      experiment_id: "exp-tone",
      variant: "b",
      tags: { queue: "billing", requested_model: "gpt-4o" },
    });
    expect(outside).toMatchObject({ project: "support-bot", environment: "prod" });
    expect(outside?.user_id).toBeUndefined();
    expect(outside?.tags).toEqual({ requested_model: "gpt-4o" });
  });

  it("merges nested contexts, the inner value winning and tags merging key by key", async () => {
    const { ct, ask, events } = setup();
    await ct.withContext({ userId: "u_1", feature: "search", tags: { tier: "free", region: "eu" } }, () =>
      ct.withContext({ feature: "rerank", tags: { tier: "pro" } }, ask),
    );
    const [e] = await events();
    expect(e).toMatchObject({ user_id: "u_1", feature: "rerank", tags: { tier: "pro", region: "eu" } });
  });

  it("keeps concurrent requests' contexts apart", async () => {
    const { ct, ask, events } = setup();
    await Promise.all(
      ["u_a", "u_b", "u_c", "u_d"].map((userId, i) =>
        ct.withContext({ userId }, async () => {
          await new Promise((r) => setTimeout(r, 10 * (4 - i)));
          await ask();
          await ask();
        }),
      ),
    );
    const byUser = new Map<string, number>();
    for (const e of await events()) byUser.set(e.user_id as string, (byUser.get(e.user_id as string) ?? 0) + 1);
    expect(Object.fromEntries(byUser)).toEqual({ u_a: 2, u_b: 2, u_c: 2, u_d: 2 });
  });
});

describe("agentRun", () => {
  it("gives every call of a run its id and trace, one step each, spans children of the run's span", async () => {
    const { ct, ask, events } = setup();
    const run = await ct.agentRun({ name: "triage", userId: "u_9" }, async (r) => {
      await ask();
      await ask();
      await ask();
      expect(r.steps).toBe(3);
      return r;
    });
    const es = await events();
    expect(es).toHaveLength(3);
    expect(es.map((e) => e.tags?.agent_step)).toEqual(["1", "2", "3"]);
    for (const e of es) {
      expect(e).toMatchObject({ agent_run_id: run.id, trace_id: run.traceId, parent_span_id: run.spanId, user_id: "u_9" });
      expect(e.tags?.agent).toBe("triage");
      expect(e.span_id).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(es.map((e) => e.span_id)).size).toBe(3);
    expect(run.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("makes a run inside a run its child: same trace, its own id, its span under the parent's", async () => {
    const { ct, ask, events } = setup();
    let parentRun: unknown;
    let childRun: unknown;
    await ct.agentRun({ name: "planner" }, async (parent) => {
      parentRun = parent;
      await ask();
      await ct.agentRun({ name: "researcher" }, async (child) => {
        childRun = child;
        await ask();
        expect(ct.currentRun()).toBe(child);
      });
      expect(ct.currentRun()).toBe(parent);
    });
    const p = parentRun as { id: string; traceId: string; spanId: string };
    const c = childRun as { id: string; traceId: string; spanId: string; parentSpanId: string; depth: number };
    expect(c.traceId).toBe(p.traceId);
    expect(c.id).not.toBe(p.id);
    expect(c.parentSpanId).toBe(p.spanId);
    expect(c.depth).toBe(1);
    const [first, second] = await events();
    expect(first).toMatchObject({ agent_run_id: p.id, parent_span_id: p.spanId, tags: { agent: "planner" } });
    expect(second).toMatchObject({ agent_run_id: c.id, trace_id: p.traceId, parent_span_id: c.spanId, tags: { agent: "researcher" } });
    expect(ct.currentRun()).toBeUndefined();
  });

  it("takes a run id of the caller's own", async () => {
    const { ct, ask, events } = setup();
    await ct.agentRun({ name: "nightly", id: "run_2026_12_02" }, ask);
    expect((await events())[0]?.agent_run_id).toBe("run_2026_12_02");
  });
});

describe("track", () => {
  it("records what no wrapped client made, with the context's attribution", async () => {
    const { ct, events } = setup();
    const results = ct.withContext({ feature: "answer", userId: "u_3" }, () => [
      ct.track({ provider: "self-hosted", model: "llama-3.1-70b", usage: { input_tokens: 900, output_tokens: 120 }, costUsd: "0.000410" }),
      ct.track({ provider: "tavily", model: "search", operation: "web_search", units: { web_search_calls: 2 }, costUsd: "0.016" }),
      ct.track({ provider: "internal", model: "lookup_order", operation: "tool_call", units: { tool_calls: 1 }, costUsd: "0" }),
      ct.track({ provider: "pinecone", model: "query", operation: "other", units: { requests: 1 }, costUsd: "0.0000016" }),
      ct.track({
        provider: "openai",
        model: "gpt-4o-mini",
        api: "openai.embeddings",
        rawUsage: { prompt_tokens: 10, total_tokens: 10 },
        latencyMs: 40,
      }),
    ]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const es = await events();
    expect(es.map((e) => [e.provider, e.operation ?? null, e.cost_usd ?? null])).toEqual([
      ["self-hosted", null, "0.00041"],
      ["tavily", "web_search", "0.016"],
      ["internal", "tool_call", "0"],
      ["pinecone", "other", "0.0000016"],
      ["openai", null, null],
    ]);
    for (const e of es) expect(e).toMatchObject({ feature: "answer", user_id: "u_3", project: "support-bot" });
  });

  it("answers bad input with the field and the reason, sends nothing, and never throws", () => {
    const { ct, exporter } = setup();
    const r = ct.track({ provider: "x", model: "", costUsd: 0.5 as unknown as string, usage: { output_tokens: -1 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => [i.path.join("."), i.code])).toEqual([
      ["model", "required"],
      ["usage.output_tokens", "negative"],
      ["cost_usd", "invalid_type"],
    ]);
    expect(exporter.events).toEqual([]);
  });
});

describe("agent run steps", () => {
  it("numbers calls in the order they start, whatever order they finish in", async () => {
    const { ct, events } = setup();
    fake.eventDelayMs = 15;
    const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }));
    try {
      await ct.agentRun({ name: "parallel" }, async () => {
        const slow = (async () => {
          const stream = await openai.chat.completions.create({
            model: "gpt-4o",
            stream: true,
            messages: [{ role: "user", content: "a" }],
          });
          for await (const _ of stream) {
          }
        })();
        await new Promise((r) => setTimeout(r, 5));
        await openai.embeddings.create({ model: "text-embedding-3-small", input: "b" });
        await slow;
      });
    } finally {
      fake.eventDelayMs = 2;
    }
    const es = await events();
    // The embedding finished first, the stream second: steps follow the start.
    expect(es.map((e) => [e.api, e.tags?.agent_step])).toEqual([
      ["openai.embeddings", "2"],
      ["openai.chat", "1"],
    ]);
  });
});

describe("wrapping AzureOpenAI", () => {
  it("keeps the deployment and API version, and records the call as Azure's", async () => {
    const { AzureOpenAI } = await import("openai");
    const exporter = new MemoryExporter();
    const ct = new Costtrail({ exporter });
    const azure = ct.wrap(
      new AzureOpenAI({ endpoint: fake.url, apiKey: "azure-test-key", apiVersion: "2024-10-21", deployment: "gpt-4o-prod", maxRetries: 0 }),
    );
    const before = fake.requests.length;
    const r = await azure.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(r.usage?.prompt_tokens).toBe(1200);
    await new Promise((res) => setTimeout(res, 20));
    await ct.flush();
    expect(fake.requests[before]?.headers["api-key"]).toBe("azure-test-key");
    expect(exporter.events[0]).toMatchObject({ provider: "azure", model: "gpt-4o-2024-08-06", api: "openai.chat" });
  });
});
