import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal, nanoToDecimal, openaiChatReader, toNanoUsd } from "@costtrail/core";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../../sdk/test/fake-provider.js";
import { hashApiKey } from "../src/auth/api-keys.js";
import { defaultConfig } from "../src/config/load-config.js";
import { estimateCall } from "../src/gateway/pre-forward-check.js";
import { loadTokenizers } from "../src/gateway/token-estimate.js";
import { type RunningServer, startServer } from "../src/serve.js";

const ADMIN = `budgets-admin-${"k".repeat(32)}`;
let fake: FakeProvider;
let server: RunningServer;
let dir: string;
let configFile: string;

const READER = `budgets-reader-${"r".repeat(32)}`;
const GATEWAY = (url: string) =>
  [
    "gateway:",
    "  upstreams:",
    `    openai: ${url}/v1`,
    `    anthropic: ${url}`,
    "api_keys:",
    "  - name: finance-reader",
    `    hash: ${hashApiKey(READER)}`,
    "    scopes: [read]",
    "",
  ].join("\n");

async function start(): Promise<RunningServer> {
  return startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: join(dir, "data"),
    configFile,
    watchConfig: false,
    logger: false,
    env: { COSTTRAIL_ADMIN_KEY: ADMIN },
  });
}

/** Writes the budgets section and reloads, as an operator editing costtrail.yaml would. */
async function setBudgets(yaml: string): Promise<void> {
  await writeFile(configFile, `${GATEWAY(fake.url)}budgets:\n${yaml}`);
  const r = await server.reload();
  if (!r.ok) throw new Error(r.error);
}

beforeAll(async () => {
  fake = await FakeProvider.start();
  dir = await mkdtemp(join(tmpdir(), "costtrail-budgets-"));
  configFile = join(dir, "costtrail.yaml");
  await writeFile(configFile, GATEWAY(fake.url));
  server = await start();
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

function client(feature: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({
    apiKey: "sk-test",
    baseURL: `${server.url}/openai/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-costtrail-key": ADMIN, "x-costtrail-feature": feature, ...headers },
  });
}

const BODY = { model: "gpt-4o", messages: [{ role: "user" as const, content: "Where is my refund?" }] };

/** The gateway's estimate of a request, in nano-dollars: what a budget reserves for it. */
async function estimateNano(body: Record<string, unknown>): Promise<bigint> {
  await loadTokenizers();
  const card = await loadDefaultRateCard(defaultConfig().pricing);
  const e = estimateCall(openaiChatReader, body, card, "openai", 4096);
  return toNanoUsd(Decimal.parse(e.costUsd as string));
}

async function call(path: string, init: RequestInit = {}, key = ADMIN): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.body !== undefined && { "content-type": "application/json" }), ...init.headers },
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await call(path, init)).body as T;
}

interface Status {
  name: string;
  scope: string | null;
  spent_usd: string;
  reserved_usd: string;
  limit_usd: string;
  percent: number;
  state: string;
  forecast_exhausted_at: string | null;
  forecast_exhausts_in_period: boolean;
}
const budgets = async () => (await api<{ budgets: Status[] }>("/v1/budgets")).budgets;

async function eventsOf(feature: string, want: number): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 100; i++) {
    const page = await api<{ events: Array<Record<string, unknown>> }>(`/v1/events?feature=${feature}&limit=1000`);
    if (page.events.length >= want) return page.events;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`fewer than ${want} events for ${feature}`);
}

/** Sends calls all at once; each ends as the HTTP status the client saw. */
async function burst(c: OpenAI, n: number, body: Record<string, unknown>): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      c.chat.completions.create(body as never).then(
        () => 200,
        (e: { status?: number }) => e.status ?? 0,
      ),
    ),
  );
}

/**
 * Sends `n` calls at once while the provider holds its answers, and releases them once every
 * call has either reached the provider or been refused: all admitted calls are in flight
 * together, whatever the machine's speed.
 */
async function heldBurst(c: OpenAI, n: number, body: Record<string, unknown>): Promise<number[]> {
  const release = fake.holdAnswers();
  const before = fake.requests.length;
  let refused = 0;
  const all = Promise.all(
    Array.from({ length: n }, () =>
      c.chat.completions.create(body as never).then(
        () => 200,
        (e: { status?: number }) => {
          refused++;
          return e.status ?? 0;
        },
      ),
    ),
  );
  for (let i = 0; i < 500 && fake.requests.length - before + refused < n; i++) await new Promise((r) => setTimeout(r, 10));
  release();
  return all;
}

describe("budgets on the gateway", () => {
  it("lets 50 of 200 concurrent calls through a budget with room for 50, refuses the rest before they are sent, and spends within the limit", async () => {
    const body = { ...BODY, max_tokens: 500 };
    const estimate = await estimateNano(body);
    // The answer costs $0.00472 (1,200 input of which 1,024 cached, 300 output); the estimate
    // of 500 output tokens is higher, so the reservation covers each call's actual cost.
    expect(estimate).toBeGreaterThan(toNanoUsd(Decimal.parse("0.00472")));
    const limit = nanoToDecimal(estimate * 50n + estimate / 2n).toString();
    await setBudgets(
      [
        "  - name: burst",
        "    match: { feature: burst }",
        "    period: day",
        `    limit_usd: "${limit}"`,
        "    actions: [{ at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    const upstreamBefore = fake.requests.length;
    const statuses = await heldBurst(client("burst"), 200, body);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150);
    expect(fake.requests.length - upstreamBefore).toBe(50);
    const events = await eventsOf("burst", 200);
    expect(events.filter((e) => e.status === "blocked")).toHaveLength(150);
    expect(events.filter((e) => e.status === "blocked").every((e) => e.cost_usd === "0")).toBe(true);
    const [status] = (await budgets()).filter((b) => b.name === "burst");
    // Spend is the 50 calls' actual cost; every reservation was settled by its event.
    expect(status).toMatchObject({ spent_usd: "0.236", reserved_usd: "0", state: "ok" });
    expect(Decimal.parse(status?.spent_usd as string).cmp(Decimal.parse(limit))).toBeLessThanOrEqual(0);
  });

  it("bounds the overshoot by what admitted calls cost beyond their reservations", async () => {
    // max_tokens 10 makes the estimate far below the actual $0.00472: the limit is passed,
    // by no more than the 50 admitted calls' (actual − estimate), and the next call is refused.
    const body = { ...BODY, max_tokens: 10 };
    const estimate = await estimateNano(body);
    const limitNano = estimate * 50n;
    await setBudgets(
      [
        "  - name: underestimated",
        "    match: { feature: underestimated }",
        "    period: day",
        `    limit_usd: "${nanoToDecimal(limitNano).toString()}"`,
        "    actions: [{ at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    const statuses = await heldBurst(client("underestimated"), 200, body);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    await eventsOf("underestimated", 200);
    const [status] = (await budgets()).filter((b) => b.name === "underestimated");
    const spent = toNanoUsd(Decimal.parse(status?.spent_usd as string));
    const actual = toNanoUsd(Decimal.parse("0.00472"));
    const overshoot = spent - limitNano;
    expect(overshoot).toBeGreaterThan(0n);
    expect(overshoot).toBeLessThanOrEqual(50n * (actual - estimate));
    expect(status?.state).toBe("blocked");
    expect(await burst(client("underestimated"), 1, body)).toEqual([429]);
  });

  it("sends the call to the cheaper model past a soft cap", async () => {
    await setBudgets(
      [
        "  - name: soft",
        "    match: { feature: soft }",
        "    period: month",
        '    limit_usd: "0.01"',
        "    actions:",
        "      - { at_percent: 40, action: downgrade, model: gpt-4o-mini }",
        "      - { at_percent: 100, action: block }",
        "",
      ].join("\n"),
    );
    const c = client("soft");
    const before = fake.requests.length;
    // $0.00472 spent: 47% of the limit, past the soft cap for the next call.
    await c.chat.completions.create({ ...BODY, max_tokens: 100 });
    await eventsOf("soft", 1);
    await c.chat.completions.create({ ...BODY, max_tokens: 100 });
    expect(fake.requests.slice(before).map((r) => r.body.model)).toEqual(["gpt-4o", "gpt-4o-mini"]);
  });

  it("refuses an unpriced model under a blocking budget, and charges the fallback rate under another", async () => {
    await setBudgets(
      [
        "  - name: strict",
        "    match: { feature: unpriced-strict }",
        "    period: day",
        '    limit_usd: "100"',
        "    actions: [{ at_percent: 100, action: block }]",
        "  - name: lenient",
        "    match: { feature: unpriced-lenient }",
        "    period: day",
        '    limit_usd: "100"',
        "    actions: [{ at_percent: 100, action: block }]",
        '    unpriced: { input_mtok: "10", output_mtok: "30" }',
        "",
      ].join("\n"),
    );
    const body = { ...BODY, model: "house-model-7b", max_tokens: 100 };
    const strict = await burst(client("unpriced-strict"), 1, body);
    expect(strict).toEqual([429]);
    expect(await burst(client("unpriced-lenient"), 1, body)).toEqual([200]);
    await eventsOf("unpriced-lenient", 1);
    const lenient = (await budgets()).find((b) => b.name === "lenient");
    // The upstream answers as gpt-4o-2024-08-06 (priced): the fallback only covers the estimate.
    expect(lenient?.spent_usd).toBe("0.00472");
    const [refused] = await eventsOf("unpriced-strict", 1);
    expect(refused).toMatchObject({ status: "blocked", cost_usd: "0" });
    // An unpriced call that reaches the ledger another way counts at the fallback rates:
    // 1,000 input × $10 + 100 output × $30 per million.
    await api("/v1/events", {
      method: "POST",
      body: JSON.stringify([
        {
          id: "evt_unpriced_1",
          timestamp: new Date().toISOString(),
          provider: "openai",
          model: "house-model-7b",
          usage: { input_tokens: 1000, output_tokens: 100 },
          feature: "unpriced-lenient",
        },
      ]),
    });
    expect((await budgets()).find((b) => b.name === "lenient")?.spent_usd).toBe("0.01772");
  });
});

describe("a stream's running cost", () => {
  it("is cut off where it would outgrow its reservation and the budget's room, when the budget says so", async () => {
    const body = { ...BODY, max_tokens: 2, stream: true as const };
    const estimate = await estimateNano(body);
    // Room for the reservation (2 output tokens) and 3.5 more output tokens at $10 per million.
    await setBudgets(
      [
        "  - name: streams",
        "    match: { feature: cut-stream }",
        "    period: day",
        `    limit_usd: "${nanoToDecimal(estimate + 35_000n).toString()}"`,
        "    actions: [{ at_percent: 100, action: block }]",
        "    cut_streams: true",
        "",
      ].join("\n"),
    );
    const stream = await client("cut-stream").chat.completions.create(body);
    const received: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) received.push(text);
      }
    })().catch((e: Error) => e);
    expect((err as Error).message).toContain('Cut off by Costtrail budget "streams": the answer reached 5 output tokens');
    expect(received.length).toBeLessThanOrEqual(5);
    const [row] = await eventsOf("cut-stream", 1);
    expect(row).toMatchObject({ status: "aborted", error_type: "cut off by streams", streamed: true });
    // The same stream without cut_streams runs to its end.
    await setBudgets(
      [
        "  - name: streams",
        "    match: { feature: whole-stream }",
        "    period: day",
        '    limit_usd: "10"',
        "    actions: [{ at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    let whole = 0;
    for await (const chunk of await client("whole-stream").chat.completions.create(body)) if (chunk.choices[0]?.delta?.content) whole++;
    expect(whole).toBeGreaterThan(5);
  });
});

describe("agent-run ceilings on the gateway", () => {
  it("refuses a run's calls once it passes its agent's ceiling, while the run goes on", async () => {
    await writeFile(configFile, `${GATEWAY(fake.url)}agent_runs:\n  - agent: gw-looper\n    max_llm_calls: 3\n    max_cost_usd: "1.00"\n`);
    expect(await server.reload()).toEqual({ ok: true });
    const c = client("agent-loop", { "x-costtrail-agent-run": "run_gw_1", "x-costtrail-tags": "agent=gw-looper" });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(...(await burst(c, 1, { ...BODY, max_tokens: 100 })));
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another run of the same agent is not stopped.
    const other = client("agent-loop", { "x-costtrail-agent-run": "run_gw_2", "x-costtrail-tags": "agent=gw-looper" });
    expect(await burst(other, 1, BODY)).toEqual([200]);
    await eventsOf("agent-loop", 6);
    const standing = await api<Record<string, unknown>>("/v1/agent-runs/run_gw_1");
    expect(standing).toMatchObject({
      agent: "gw-looper",
      llm_calls: 3,
      cost_usd: "0.01416",
      stopped: { ceiling: "max_llm_calls", used: "4", max: "3" },
    });
    const stopped = await api<{ runs: Array<{ agent_run_id: string }> }>("/v1/agent-runs/stopped");
    expect(stopped.runs.map((r) => r.agent_run_id)).toEqual(["run_gw_1"]);
  });
});

describe("budgets over the API", () => {
  it("keeps one counter per customer for an each-value-of budget, checked and settled through the API", async () => {
    await setBudgets(
      [
        "  - name: per-customer",
        "    match: { feature: api-checked }",
        "    each_value_of: customer_id",
        "    period: day",
        '    limit_usd: "0.01"',
        "    actions: [{ at_percent: 80, action: alert }, { at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    const check = (id: string, customer: string) =>
      api<{ action: string; budgets?: string[]; reserved_usd?: string; message?: string }>("/v1/budgets/check", {
        method: "POST",
        body: JSON.stringify({
          id,
          provider: "openai",
          model: "gpt-4o",
          input_tokens: 1000,
          max_output_tokens: 500,
          feature: "api-checked",
          customer_id: customer,
        }),
      });
    // 1,000 × $2.50 + 500 × $10 per million: $0.0075 reserved for each call.
    expect(await check("evt_acme_1", "acme")).toMatchObject({ action: "allow", budgets: ["per-customer"], reserved_usd: "0.0075" });
    expect(await check("evt_acme_2", "acme")).toMatchObject({ action: "refuse" });
    expect(await check("evt_globex_1", "globex")).toMatchObject({ action: "allow" });
    let rows = await budgets();
    expect(rows.filter((b) => b.name === "per-customer").map((b) => [b.scope, b.reserved_usd])).toEqual([
      ["acme", "0.0075"],
      ["globex", "0.0075"],
    ]);
    // The SDK sends the call's event under the id it reserved with; sent twice, it counts once.
    const event = {
      id: "evt_acme_1",
      timestamp: new Date().toISOString(),
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      api: "openai.chat",
      raw_usage: { prompt_tokens: 1000, completion_tokens: 100 },
      feature: "api-checked",
      customer_id: "acme",
    };
    for (let i = 0; i < 2; i++) await api("/v1/events", { method: "POST", body: JSON.stringify([event]) });
    rows = await budgets();
    expect(rows.find((b) => b.name === "per-customer" && b.scope === "acme")).toMatchObject({
      spent_usd: "0.0035",
      reserved_usd: "0",
      percent: 35,
    });
    await api("/v1/budgets/reservations/evt_globex_1", { method: "DELETE" });
    expect((await budgets()).find((b) => b.scope === "globex")?.reserved_usd).toBe("0");
  });

  it("names the field and the reason for a bad check", async () => {
    const res = await fetch(`${server.url}/v1/budgets/check`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "x", provider: "openai", input_tokens: -1, max_output_tokens: 10, colour: "red" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: Array<{ path: string[]; message: string }> };
    expect(body.issues.map((i) => i.path.join("."))).toEqual(["colour", "model", "input_tokens"]);
  });

  it("refuses an invalid budgets section with every error and keeps the budgets in force", async () => {
    await setBudgets(
      ["  - name: kept", "    period: week", '    limit_usd: "5"', "    actions: [{ at_percent: 100, action: block }]", ""].join("\n"),
    );
    await writeFile(configFile, `${GATEWAY(fake.url)}budgets:\n  - name: broken\n    period: year\n    limit_usd: 5\n    actions: []\n`);
    const r = await server.reload();
    expect(r.ok).toBe(false);
    const error = (r as { error: string }).error;
    expect(error).toContain("budgets[0].period: must be one of day, week, month");
    expect(error).toContain('budgets[0].limit_usd: must be the limit in USD as a quoted decimal string such as "5.00"');
    expect(error).toContain("budgets[0].actions: must be a non-empty list");
    expect((await budgets()).map((b) => b.name)).toEqual(["kept"]);
  });

  it("raises a blocked scope's limit with an approved override, and keeps every step in the audit log", async () => {
    await setBudgets(
      [
        "  - name: overridable",
        "    match: { feature: overridable }",
        "    period: day",
        '    limit_usd: "0.005"',
        "    actions: [{ at_percent: 100, action: require_override }]",
        "",
      ].join("\n"),
    );
    const c = client("overridable");
    const body = { ...BODY, max_tokens: 100 };
    expect(await burst(c, 1, body)).toEqual([200]);
    await eventsOf("overridable", 1);
    const refused = await c.chat.completions.create(body).catch((e: { status: number; message: string }) => e);
    expect((refused as { message: string }).message).toContain("an approved override is required to go on");

    const asked = await call(
      "/v1/budgets/overridable/overrides",
      { method: "POST", body: JSON.stringify({ amount_usd: "1.00", reason: "launch day traffic", expires_in: "24h" }) },
      READER,
    );
    expect(asked.status).toBe(201);
    const id = (asked.body as { id: string }).id;
    expect(asked.body).toMatchObject({ state: "pending", requested_by: "finance-reader (config:finance-reader)", amount_usd: "1" });
    expect(await burst(c, 1, body)).toEqual([429]);
    // A read key may ask, not decide.
    expect((await call(`/v1/budgets/overrides/${id}/approve`, { method: "POST", body: "{}" }, READER)).status).toBe(403);
    const approved = await call(`/v1/budgets/overrides/${id}/approve`, { method: "POST", body: JSON.stringify({ note: "ok for today" }) });
    expect(approved.body).toMatchObject({ state: "approved", decided_by: "bootstrap admin (bootstrap-admin)", note: "ok for today" });
    expect(await burst(c, 1, body)).toEqual([200]);
    expect((await budgets()).find((b) => b.name === "overridable")?.limit_usd).toBe("1.005");
    // Decided once: approving again, or denying, conflicts.
    expect(await call(`/v1/budgets/overrides/${id}/deny`, { method: "POST", body: "{}" })).toMatchObject({
      status: 409,
      body: { code: "CT_CONFLICT" },
    });
    const audit = await api<{ entries: Array<{ action: string; actor: string }> }>(`/v1/audit?subject=${id}`);
    expect(audit.entries.map((e) => e.action)).toEqual(["override.approved", "override.requested"]);
    expect(await api<{ overrides: unknown[] }>("/v1/budgets/overrides?state=approved")).toMatchObject({ overrides: [{ id }] });
  });

  it("names each field of a bad override request", async () => {
    const r = await call("/v1/budgets/overridable/overrides", {
      method: "POST",
      body: JSON.stringify({ amount_usd: 5, expires_in: "1y", scope: "x" }),
    });
    expect(r.status).toBe(400);
    expect((r.body as { issues: Array<{ path: string[] }> }).issues.map((i) => i.path.join("."))).toEqual([
      "scope",
      "amount_usd",
      "reason",
      "expires_in",
    ]);
    expect((await call("/v1/budgets/nope/overrides", { method: "POST", body: "{}" })).status).toBe(404);
  });

  it("reads its counters back from the ledger when the server starts again", async () => {
    await setBudgets(
      [
        "  - name: survives",
        "    match: { feature: burst }",
        "    period: day",
        '    limit_usd: "1"',
        "    actions: [{ at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    const before = (await budgets()).find((b) => b.name === "survives");
    expect(before?.spent_usd).toBe("0.236");
    await server.close();
    server = await start();
    const after = (await budgets()).find((b) => b.name === "survives");
    expect(after).toMatchObject({ spent_usd: "0.236", reserved_usd: "0", percent: 23.6 });
    expect(after?.forecast_exhausted_at).not.toBeNull();
  });
});
