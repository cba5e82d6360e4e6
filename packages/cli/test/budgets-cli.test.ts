import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpReceiver } from "../../server/test/http-receiver.js";
import { runCosttrail } from "./run-costtrail.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const ADMIN = `ct_${"B".repeat(40)}`;
let server: ServerProcess;
let receiver: HttpReceiver;
let dir: string;

function costtrail(args: string[]) {
  return runCosttrail(args, { timeout: 30_000, cwd: dir, env: { ...process.env, COSTTRAIL_URL: server.url, COSTTRAIL_API_KEY: ADMIN } });
}

async function post(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.ok).toBe(true);
}

beforeAll(async () => {
  receiver = await HttpReceiver.start();
  dir = await mkdtemp(join(tmpdir(), "ct-budgets-cli-"));
  const config = join(dir, "costtrail.yaml");
  await writeFile(
    config,
    [
      "budgets:",
      "  - name: search-daily",
      "    match: { feature: search }",
      "    period: day",
      '    limit_usd: "0.01"',
      "    actions: [{ at_percent: 40, action: alert }, { at_percent: 100, action: block }]",
      "  - name: per-customer",
      "    each_value_of: customer_id",
      "    period: month",
      '    limit_usd: "50"',
      "    actions: [{ at_percent: 100, action: block }]",
      "alerts:",
      "  evaluate_every: 60m",
      "  destinations:",
      `    - { name: hook, type: webhook, url: "${receiver.url}/hook", secret_env: HOOK_SECRET }`,
      "  rules:",
      "    - { name: budgets, type: budget_threshold, destinations: [hook] }",
      "",
    ].join("\n"),
  );
  server = await startServerProcess(join(dir, "data"), { COSTTRAIL_ADMIN_KEY: ADMIN, HOOK_SECRET: "s3cret" }, ["--config", config]);
  await post("/v1/events", [
    {
      id: "evt_cli_1",
      timestamp: new Date().toISOString(),
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      api: "openai.chat",
      raw_usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } },
      feature: "search",
      customer_id: "acme",
    },
  ]);
  await post("/v1/alerts/evaluate", {});
}, 60_000);

afterAll(async () => {
  if (server.child.exitCode === null && server.child.pid !== undefined) process.kill(server.child.pid, "SIGTERM");
  await server.exited;
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

describe("costtrail budgets and alerts", () => {
  it("lists every budget scope with spent, reserved, limit, percent, state and forecast", async () => {
    const r = await costtrail(["budgets"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^budget\s+scope\s+period\s+spent\s+reserved\s+limit\s+%\s+state\s+runs out$/);
    const rows = lines.slice(2, 4).map((l) => l.split(/\s{2,}/));
    expect(rows[0]?.slice(0, 8)).toEqual(["search-daily", "—", "day", "0.00472", "0", "0.01", "47.2", "alerting"]);
    expect(rows[1]?.slice(0, 8)).toEqual(["per-customer", "acme", "month", "0.00472", "0", "50", "0.0", "ok"]);
    expect(rows[0]?.[8]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}Z/);
  });

  it("prints the server's JSON with --json", async () => {
    const r = await costtrail(["budgets", "--json"]);
    const body = JSON.parse(r.stdout) as { budgets: Array<{ name: string; spent_usd: string }> };
    expect(body.budgets.map((b) => [b.name, b.spent_usd])).toEqual([
      ["search-daily", "0.00472"],
      ["per-customer", "0.00472"],
    ]);
  });

  it("lists open alerts with where they were sent, and refuses contradictory flags", async () => {
    const r = await costtrail(["alerts", "--open"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /open\s+warning\s+budgets\s+Budget search-daily at 47\.2% of \$0\.01: \$0\.00472 spent\s+hook:(delivered|pending)/,
    );
    expect((await costtrail(["alerts", "--resolved"])).stdout.trim()).toBe("No alerts.");
    const bad = await costtrail(["alerts", "--open", "--resolved"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--open and --resolved: give one or neither");
  });
});
