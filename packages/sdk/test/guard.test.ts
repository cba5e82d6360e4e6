import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRunStoppedError, Costtrail, MemoryExporter, isCosttrailRefusal } from "../src/index.js";
import { CaptureServer } from "./capture-server.js";
import { Collector } from "./collector.js";
import { FakeProvider } from "./fake-provider.js";

let fake: FakeProvider;
let collector: Collector;

beforeAll(async () => {
  fake = await FakeProvider.start();
  collector = await Collector.start(
    [
      "budgets:",
      "  - name: guarded",
      "    match: { feature: guarded }",
      "    period: day",
      '    limit_usd: "0.005"',
      "    actions: [{ at_percent: 100, action: block }]",
      "  - name: cheaper",
      "    match: { feature: cheaper }",
      "    period: day",
      '    limit_usd: "0.1"',
      "    actions: [{ at_percent: 5, action: downgrade, model: gpt-4o-mini }, { at_percent: 100, action: block }]",
      "agent_runs:",
      "  - agent: server-capped",
      "    max_llm_calls: 3",
      "",
    ].join("\n"),
  );
});
afterAll(async () => {
  await collector?.close();
  await fake?.close();
});

function setup(feature: string) {
  const ct = new Costtrail({ endpoint: collector.url, apiKey: collector.adminKey, spoolDir: false, guard: { budgets: true } });
  const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 2 }));
  const ask = () =>
    ct.withContext({ feature }, () =>
      openai.chat.completions.create({ model: "gpt-4o", max_tokens: 100, messages: [{ role: "user", content: "Where is my refund?" }] }),
    );
  return { ct, openai, ask };
}

describe("the SDK's guard", () => {
  it("refuses a call over its budget without reaching the provider or retrying, and records it blocked", async () => {
    const { ct, ask } = setup("guarded");
    const before = fake.requests.length;
    await ask();
    // The first call's event settles its reservation: $0.00472 spent of $0.005.
    await ct.flush();
    const refused = await ask().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isCosttrailRefusal(refused)).toBe(true);
    expect((refused as { status: number; message: string }).message).toContain('Budget "guarded" has reached 100% of its $0.005 per day');
    expect(fake.requests.length - before).toBe(1);
    await ct.shutdown();
    const rows = await collector.events({ feature: "guarded" });
    expect(rows.map((r) => [r.status, r.cost_usd]).sort()).toEqual([
      ["blocked", "0"],
      ["ok", "0.00472"],
    ]);
  });

  it("sends the call to the model a soft cap names", async () => {
    const { ct, ask } = setup("cheaper");
    const before = fake.requests.length;
    // $0.00472 spent, plus the next call's estimate, passes 5% of $0.10.
    await ask();
    await ct.flush();
    await ask();
    await ct.shutdown();
    expect(fake.requests.slice(before).map((r) => r.body.model)).toEqual(["gpt-4o", "gpt-4o-mini"]);
  });

  it("asks the server once a short while for calls no budget covers, and each time for covered ones", async () => {
    const capture = await CaptureServer.start();
    let covered = false;
    capture.answer = () => ({ status: 200, body: { action: "allow", model: "gpt-4o", budgets: covered ? ["b"] : [] } });
    const ct = new Costtrail({
      endpoint: capture.url,
      apiKey: "k",
      exporter: new MemoryExporter(),
      guard: { budgets: true, cacheMs: 60_000 },
    });
    const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }));
    const ask = () => openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    await ask();
    await ask();
    expect(capture.posts).toHaveLength(1);
    await ct.withContext({ feature: "other" }, ask);
    expect(capture.posts).toHaveLength(2);
    covered = true;
    await ct.withContext({ feature: "covered" }, ask);
    await ct.withContext({ feature: "covered" }, ask);
    expect(capture.posts).toHaveLength(4);
    expect(capture.posts[3]?.events).toMatchObject({ provider: "openai", model: "gpt-4o", feature: "covered", max_output_tokens: 4096 });
    await capture.close();
  });

  it("lets calls through when the server cannot be reached, or refuses them when told to", async () => {
    const open = new Costtrail({ endpoint: "http://127.0.0.1:9", apiKey: "k", exporter: new MemoryExporter(), guard: { budgets: true } });
    const closed = new Costtrail({
      endpoint: "http://127.0.0.1:9",
      apiKey: "k",
      exporter: new MemoryExporter(),
      guard: { budgets: true, onUnavailable: "refuse" },
    });
    const client = new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
    const ask = (ct: Costtrail) =>
      ct.wrap(client).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    await expect(ask(open)).resolves.toMatchObject({ model: "gpt-4o-2024-08-06" });
    await expect(ask(closed)).rejects.toMatchObject({ status: 429, error: { type: "costtrail_guard_unavailable" } });
  });
});

describe("agent-run ceilings in the SDK", () => {
  function looper(guard = false) {
    const exporter = new MemoryExporter();
    const ct = new Costtrail(
      guard
        ? { endpoint: collector.url, apiKey: collector.adminKey, spoolDir: false, guard: { budgets: true } }
        : { exporter, project: "agents" },
    );
    const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 2 }));
    return { ct, openai, exporter };
  }

  it("stops a runaway tool loop at its LLM-call ceiling, refusing the next call without reaching the provider", async () => {
    const { ct, openai, exporter } = looper();
    const before = fake.requests.length;
    let iterations = 0;
    const run = ct.agentRun({ name: "looper", ceilings: { maxLlmCalls: 5 } }, async () => {
      // A loop that never decides it is done: it asks, calls a tool, and asks again.
      for (;;) {
        iterations++;
        await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "next step?" }] });
        ct.track({ provider: "internal", model: "search-tool", operation: "tool_call", units: { tool_calls: 1 } });
      }
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e as AgentRunStoppedError,
    );
    expect(err).toBeInstanceOf(AgentRunStoppedError);
    expect(err?.code).toBe("CT_AGENT_RUN_STOPPED");
    expect(err?.stop).toMatchObject({ ceiling: "maxLlmCalls", used: "6", max: "5", source: "sdk" });
    expect(iterations).toBe(6);
    expect(fake.requests.length - before).toBe(5);
    await ct.flush();
    const calls = exporter.events.filter((e) => e.provider === "openai");
    expect(calls.map((e) => e.status)).toEqual(["ok", "ok", "ok", "ok", "ok", "blocked"]);
    expect(new Set(calls.map((e) => e.agent_run_id)).size).toBe(1);
  });

  it("stops a run at its tool-call ceiling", async () => {
    const { ct, openai } = looper();
    const err = await ct
      .agentRun({ name: "tools", ceilings: { maxToolCalls: 2 } }, async () => {
        for (;;) {
          ct.track({ provider: "internal", model: "search-tool", operation: "tool_call", usage: {} });
          await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "next?" }] });
        }
      })
      .catch((e: AgentRunStoppedError) => e);
    expect(err.stop).toMatchObject({ ceiling: "maxToolCalls", used: "3", max: "2" });
  });

  it("cuts off a call in flight when the run's wall time runs out", async () => {
    const { ct, openai, exporter } = looper();
    fake.answerDelayMs = 1000;
    const started = Date.now();
    const err = await ct
      .agentRun({ name: "slow", ceilings: { maxWallTimeMs: 200 } }, () =>
        openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "think hard" }] }),
      )
      .catch((e: AgentRunStoppedError) => e)
      .finally(() => {
        fake.answerDelayMs = 0;
      });
    expect(Date.now() - started).toBeLessThan(900);
    expect(err).toMatchObject({ code: "CT_AGENT_RUN_STOPPED", stop: { ceiling: "maxWallTimeMs", max: "200 ms" } });
    await new Promise((r) => setTimeout(r, 50));
    await ct.flush();
    expect(exporter.events.map((e) => [e.status, e.error_type])).toEqual([["aborted", "agent run stopped: maxWallTimeMs"]]);
  });

  it("stops a run at the server's ceiling for its agent, through the guard", async () => {
    const { ct, openai } = looper(true);
    const before = fake.requests.length;
    const err = await ct
      .agentRun({ name: "server-capped" }, async () => {
        for (;;) await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "again" }] });
      })
      .catch((e: AgentRunStoppedError) => e);
    expect(err).toMatchObject({ code: "CT_AGENT_RUN_STOPPED", stop: { source: "server" } });
    expect(err.message).toContain("max_llm_calls is 3");
    expect(fake.requests.length - before).toBe(3);
    await ct.shutdown();
  });
});
