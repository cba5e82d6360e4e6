import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/serve.js";
import { HttpReceiver } from "./http-receiver.js";

const ADMIN = `alerts-admin-${"k".repeat(32)}`;
const PD_KEY = "R0123456789abcdef0123456789abcde";
const SECRET = "whsec-test-0123456789";
let receiver: HttpReceiver;
let server: RunningServer;
let dir: string;
let configFile: string;

function config(budgetLimit: string): string {
  return [
    "budgets:",
    "  - name: support-daily",
    "    match: { feature: support }",
    "    period: day",
    `    limit_usd: "${budgetLimit}"`,
    "    actions: [{ at_percent: 40, action: alert }, { at_percent: 100, action: block }]",
    "agent_runs:",
    "  - agent: alert-looper",
    "    max_llm_calls: 1",
    "alerts:",
    "  evaluate_every: 60m",
    "  dashboard_url: https://costtrail.example.com",
    "  destinations:",
    "    - { name: finops-slack, type: slack, url_env: SLACK_URL }",
    `    - { name: oncall, type: pagerduty, routing_key_env: PD_KEY, url: "${receiver.url}/pagerduty" }`,
    `    - { name: hook, type: webhook, url: "${receiver.url}/hook", secret_env: HOOK_SECRET }`,
    "  rules:",
    "    - { name: budgets, type: budget_threshold, destinations: [finops-slack, oncall, hook] }",
    '    - { name: spikes, type: spend_spike, destinations: [hook], window: 1h, baseline_days: 7, factor: 1.5, min_usd: "0.01" }',
    "    - { name: prompts, type: cost_per_request_change, destinations: [hook], factor: 1.3, min_requests: 5 }",
    "    - { name: unpriced, type: unpriced_model, destinations: [finops-slack] }",
    "    - { name: runaways, type: agent_run_ceiling, destinations: [oncall] }",
    "",
  ].join("\n");
}

beforeAll(async () => {
  receiver = await HttpReceiver.start();
  receiver.answer = (r) =>
    r.path === "/pagerduty"
      ? { status: 202, body: JSON.stringify({ status: "success", message: "Event processed" }) }
      : { status: 200, body: "ok" };
  dir = await mkdtemp(join(tmpdir(), "costtrail-alerts-"));
  configFile = join(dir, "costtrail.yaml");
  await writeFile(configFile, config("0.01"));
  server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: join(dir, "data"),
    configFile,
    watchConfig: false,
    logger: false,
    env: { COSTTRAIL_ADMIN_KEY: ADMIN, SLACK_URL: `${receiver.url}/slack`, PD_KEY, HOOK_SECRET: SECRET },
    alertDelivery: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 4 },
  });
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, ...(init.body !== undefined && { "content-type": "application/json" }) },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function ingest(events: Array<Record<string, unknown>>): Promise<void> {
  const r = await api<{ accepted: number }>("/v1/events", { method: "POST", body: JSON.stringify(events) });
  expect(r.accepted).toBe(events.length);
}

let n = 0;
function chat(overrides: Record<string, unknown>, promptTokens = 1200, completionTokens = 300): Record<string, unknown> {
  return {
    id: `evt_alert_${++n}`,
    timestamp: new Date().toISOString(),
    provider: "openai",
    model: "gpt-4o-2024-08-06",
    api: "openai.chat",
    raw_usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      prompt_tokens_details: { cached_tokens: promptTokens >= 1024 ? 1024 : 0 },
    },
    environment: "prod",
    trace_id: `trace_${n}`,
    ...overrides,
  };
}

/** Evaluates now, then waits for every delivery to finish. */
async function evaluate(): Promise<void> {
  await api("/v1/alerts/evaluate", { method: "POST", body: "{}" });
  await server.alerts.settle();
}

interface AlertRow {
  id: string;
  key: string;
  rule: string;
  state: string;
  title: string;
  scope: Record<string, string | null>;
  amounts: Record<string, string | number>;
  trace_ids: string[];
  link: string;
  deliveries: Array<{ destination: string; action: string; state: string; attempts: number; last_error: string | null }>;
}
const alerts = async (rule: string) => (await api<{ alerts: AlertRow[] }>("/v1/alerts")).alerts.filter((a) => a.rule === rule);

describe("alerts", () => {
  it("sends a budget threshold once to Slack, PagerDuty and a signed webhook, and resolves it when it clears", async () => {
    await ingest([chat({ feature: "support" })]);
    await evaluate();
    const [alert] = await alerts("budgets");
    expect(alert).toMatchObject({
      state: "open",
      title: "Budget support-daily at 47.2% of $0.01: $0.00472 spent",
      scope: { budget: "support-daily", feature: "support" },
      amounts: { spent_usd: "0.00472", limit_usd: "0.01", percent: 47.2, threshold_percent: 40 },
      trace_ids: [expect.stringMatching(/^trace_/)],
    });
    expect(alert?.link).toMatch(/^https:\/\/costtrail\.example\.com\/explore\?from=.*&feature=support$/);

    // Slack: an incoming-webhook message, `text` plus Block Kit blocks.
    const [slack] = receiver.at("/slack");
    expect(slack?.headers["content-type"]).toBe("application/json");
    expect(slack?.json.text).toBe(":warning: Budget support-daily at 47.2% of $0.01: $0.00472 spent");
    const blocks = slack?.json.blocks as Array<Record<string, unknown>>;
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "context", "actions"]);
    expect(blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "Budget support-daily at 47.2% of $0.01: $0.00472 spent", emoji: true },
    });
    const fields = (blocks[1]?.fields ?? []) as Array<{ type: string; text: string }>;
    expect(fields.length).toBeGreaterThan(0);
    expect(fields.every((f) => f.type === "mrkdwn" && f.text.length <= 2000)).toBe(true);
    expect(blocks[3]).toMatchObject({ elements: [{ type: "button", url: alert?.link }] });

    // PagerDuty Events API v2: a trigger with the routing key, the alert's id as dedup key, and the payload.
    const [pd] = receiver.at("/pagerduty");
    expect(pd?.json).toEqual({
      routing_key: PD_KEY,
      event_action: "trigger",
      dedup_key: alert?.id,
      payload: {
        summary: alert?.title,
        source: "costtrail",
        severity: "warning",
        timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        component: "support-daily",
        class: "budget_threshold",
        custom_details: { rule: "budgets", scope: alert?.scope, amounts: alert?.amounts, trace_ids: alert?.trace_ids },
      },
      links: [{ href: alert?.link, text: "Open in Costtrail" }],
      client: "Costtrail",
      client_url: alert?.link,
    });

    // The webhook: the alert, signed over "<t>.<body>" with HMAC-SHA256.
    const [hook] = receiver.at("/hook");
    const sig = String(hook?.headers["x-costtrail-signature"]);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig) ?? [];
    expect(v1).toBe(createHmac("sha256", SECRET).update(`${t}.${hook?.text}`).digest("hex"));
    expect(hook?.headers["x-costtrail-event"]).toBe("alert.opened");
    expect(hook?.json).toMatchObject({ event: "alert.opened", alert: { id: alert?.id, state: "open" } });

    // Evaluated again, the open alert is not sent again.
    const sent = receiver.received.length;
    await evaluate();
    expect(receiver.received.length).toBe(sent);

    // Past the next threshold (100%, the cap), the same alert is raised and sent again.
    await ingest([chat({ feature: "support" }), chat({ feature: "support" })]);
    await evaluate();
    const [raised] = await alerts("budgets");
    expect(raised).toMatchObject({
      id: alert?.id,
      state: "open",
      severity: "critical",
      amounts: { percent: 141.6, threshold_percent: 100 },
    });
    expect(receiver.at("/pagerduty").at(-1)?.json).toMatchObject({
      event_action: "trigger",
      dedup_key: alert?.id,
      payload: { severity: "critical", summary: "Budget support-daily at 141.6% of $0.01: $0.01416 spent, block in force" },
    });

    // The limit raised, the condition is gone: resolved, and PagerDuty gets the same dedup key.
    await writeFile(configFile, config("1.00"));
    expect(await server.reload()).toEqual({ ok: true });
    await evaluate();
    const [resolved] = await alerts("budgets");
    expect(resolved).toMatchObject({ id: alert?.id, state: "resolved" });
    expect(receiver.at("/pagerduty").at(-1)?.json).toEqual({ routing_key: PD_KEY, event_action: "resolve", dedup_key: alert?.id });
    expect(receiver.at("/slack").at(-1)?.json.text).toBe(
      ":white_check_mark: Resolved: Budget support-daily at 141.6% of $0.01: $0.01416 spent, block in force",
    );
    expect(resolved?.deliveries.filter((d) => d.state === "delivered")).toHaveLength(6);
  });

  it("retries a failing destination with backoff, honours Retry-After, and records the outcome", async () => {
    let hookCalls = 0;
    receiver.answer = (r) => {
      if (r.path !== "/hook") return r.path === "/pagerduty" ? { status: 202, body: "{}" } : { status: 200, body: "ok" };
      hookCalls++;
      if (hookCalls === 1) return { status: 503, body: "unavailable" };
      if (hookCalls === 2) return { status: 429, body: "slow down", headers: { "retry-after": "0" } };
      return { status: 200, body: "ok" };
    };
    // An hour of steady spend for a week, then a burst this hour: a spike of its series.
    const hour = 3_600_000;
    const now = Date.now();
    const baseline = Array.from({ length: 7 * 24 }, (_, i) =>
      chat({ feature: "spiky", timestamp: new Date(now - (i + 2) * hour).toISOString() }, 100, 10),
    );
    await ingest(baseline);
    await ingest(Array.from({ length: 20 }, () => chat({ feature: "spiky" })));
    await evaluate();
    const [spike] = (await alerts("spikes")).filter((a) => a.scope.feature === "spiky");
    expect(spike?.scope).toEqual({ feature: "spiky", environment: "prod", model: "gpt-4o-2024-08-06" });
    expect(spike?.amounts).toMatchObject({ window_usd: "0.0944", window_hours: 1 });
    expect(spike?.title).toMatch(/^Spend spike for feature spiky, environment prod, model gpt-4o-2024-08-06: \$0\.0944 in the last 1h/);
    expect(spike?.trace_ids).toHaveLength(3);
    expect(spike?.deliveries).toEqual([
      expect.objectContaining({ destination: "hook", state: "delivered", attempts: 3, last_error: null }),
    ]);
  });

  it("never lets a destination that is down hold up ingestion, and marks its delivery failed", async () => {
    receiver.answer = (r) => (r.path === "/slack" ? { status: 500, body: "down" } : { status: 202, body: "{}" });
    const started = performance.now();
    await ingest([chat({ feature: "untracked", model: "house-model-9" })]);
    await evaluate();
    expect(performance.now() - started).toBeLessThan(3000);
    const [unpriced] = await alerts("unpriced");
    expect(unpriced?.title).toMatch(/^Model house-model-9 of openai has no price: 1 requests \(1500 tokens\)/);
    expect(unpriced?.deliveries).toEqual([
      expect.objectContaining({ destination: "finops-slack", state: "failed", attempts: 4, last_error: "500 down" }),
    ]);
  });

  it("alerts on a rise in cost per request after a prompt version change, and on a run stopped at its ceiling", async () => {
    receiver.answer = (r) => ({ status: r.path === "/pagerduty" ? 202 : 200, body: "ok" });
    const hour = 3_600_000;
    const now = Date.now();
    await ingest(
      Array.from({ length: 6 }, () =>
        chat({ feature: "drafts", prompt_version: "v1", timestamp: new Date(now - 5 * hour).toISOString() }, 500, 50),
      ),
    );
    await ingest(Array.from({ length: 6 }, () => chat({ feature: "drafts", prompt_version: "v2" }, 1200, 300)));
    await ingest([
      chat({ feature: "loop", agent_run_id: "run_alerted", tags: { agent: "alert-looper" } }),
      chat({ feature: "loop", agent_run_id: "run_alerted", tags: { agent: "alert-looper" } }),
    ]);
    await evaluate();
    const [prompt] = await alerts("prompts");
    expect(prompt).toMatchObject({
      scope: { feature: "drafts", prompt_version: "v2", previous_prompt_version: "v1" },
      amounts: { requests_before: 6, requests_after: 6, cost_per_request_after_usd: "0.00472" },
    });
    const [runaway] = await alerts("runaways");
    expect(runaway).toMatchObject({ scope: { agent: "alert-looper", agent_run_id: "run_alerted" }, state: "open" });
    const pd = receiver.at("/pagerduty").find((r) => r.json.dedup_key === runaway?.id);
    expect(pd?.json).toMatchObject({ event_action: "trigger", payload: { severity: "error", class: "agent_run_ceiling" } });
  });

  it("refuses an alerts section with unknown destinations and bad settings, naming each", async () => {
    await writeFile(
      configFile,
      "alerts:\n  destinations:\n    - { name: s, type: teams }\n  rules:\n    - { name: r, type: spend_spike, destinations: [nowhere], window: 90m }\n",
    );
    const r = await server.reload();
    expect(r.ok).toBe(false);
    const error = (r as { error: string }).error;
    expect(error).toContain("alerts.destinations[0].type: must be one of slack, pagerduty, webhook, log");
    expect(error).toContain('alerts.rules[0].destinations[0]: names no destination under alerts.destinations: "nowhere"');
    expect(error).toContain("alerts.rules[0].window: must be whole hours or days");
  });
});
