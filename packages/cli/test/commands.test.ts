import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCosttrail } from "./run-costtrail.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const ADMIN = `ct_${"C".repeat(40)}`;
let server: ServerProcess;
let dir: string;
const END = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();

function costtrail(args: string[], env: Record<string, string> = {}) {
  return runCosttrail(args, {
    timeout: 60_000,
    cwd: dir,
    env: { ...process.env, COSTTRAIL_URL: server.url, COSTTRAIL_API_KEY: ADMIN, ...env },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ct-cmd-"));
  server = await startServerProcess(join(dir, "data"), { COSTTRAIL_ADMIN_KEY: ADMIN });
  const demo = await costtrail(["demo", "--events", "4000", "--seed", "7", "--end", END]);
  expect(demo.code).toBe(0);
  expect(demo.stdout).toMatch(/demo: sent (\d+) events \(\1 accepted, 0 already present, 0 conflicting, 0 rejected\)/);
}, 120_000);

afterAll(async () => {
  server.child.kill("SIGTERM");
  await server.exited;
});

describe("costtrail demo", () => {
  it("loads traffic with the shape a newcomer should see", async () => {
    const r = await costtrail(["report", "--by", "feature", "--metrics", "cost_usd,requests,unpriced_requests", "--format", "json"]);
    const rows = JSON.parse(r.stdout) as Array<{ feature: string; cost_usd: string | null; unpriced_requests: number }>;
    const features = rows.map((x) => x.feature);
    expect(features).toEqual(
      expect.arrayContaining([
        "support-chat",
        "draft-reply",
        "summarize-ticket",
        "semantic-search",
        "sql-assistant",
        "code-review-agent",
        "internal-classifier",
      ]),
    );
    expect(rows.find((x) => x.feature === "internal-classifier")).toMatchObject({ cost_usd: null });
    expect(rows.find((x) => x.feature === "internal-classifier")?.unpriced_requests).toBeGreaterThan(0);
    // The month runs to its end: its last day has spend too (4,000 events a month is about 130 a day).
    const newest = (
      await costtrail([
        "report",
        "--grain",
        "hour",
        "--since",
        new Date(Date.parse(END) - 24 * 3_600_000).toISOString(),
        "--until",
        END,
        "--format",
        "json",
      ])
    ).stdout;
    expect((JSON.parse(newest) as unknown[]).length).toBeGreaterThan(0);
  });

  it("has a prompt-version change that raises cost per request", async () => {
    const r = await costtrail([
      "report",
      "--by",
      "prompt_version",
      "--where",
      "feature=draft-reply",
      "--metrics",
      "cost_per_request_usd",
      "--format",
      "json",
    ]);
    const rows = JSON.parse(r.stdout) as Array<{ prompt_version: string; cost_per_request_usd: string }>;
    const v7 = Number(rows.find((x) => x.prompt_version === "v7")?.cost_per_request_usd);
    const v8 = Number(rows.find((x) => x.prompt_version === "v8")?.cost_per_request_usd);
    expect(v8).toBeGreaterThan(v7 * 1.2);
  });

  it("has a runaway agent run far above the p99 run", async () => {
    const r = await costtrail([
      "report",
      "--by",
      "agent_run_id",
      "--where",
      "feature=code-review-agent",
      "--metrics",
      "cost_usd,requests",
      "--limit",
      "2",
      "--format",
      "json",
    ]);
    const rows = JSON.parse(r.stdout) as Array<{ agent_run_id: string; requests: number }>;
    expect(rows[0]?.agent_run_id).toBe("run_runaway_7");
    expect(rows[0]?.requests).toBeGreaterThan(5 * (rows[1]?.requests ?? 0));
  });

  it("sends the same month again as duplicates, not new spend", async () => {
    const again = await costtrail(["demo", "--events", "4000", "--seed", "7", "--end", END]);
    expect(again.stdout).toMatch(/sent (\d+) events \(0 accepted, \1 already present, 0 conflicting, 0 rejected\)/);
  }, 60_000);
});

describe("costtrail report", () => {
  it("prints an aligned table with exact money", async () => {
    const r = await costtrail(["report", "--by", "provider", "--since", "60d"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^provider\s+cost_usd\s+requests$/);
    expect(lines[1]).toMatch(/^─+\s+─+\s+─+$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).toEqual(
      expect.arrayContaining(["anthropic", "openai", "google", "bedrock", "acme"]),
    );
  });

  it("prints CSV by day and by a tag", async () => {
    const r = await costtrail(["report", "--by", "tag.region", "--grain", "week", "--format", "csv", "--since", "60d"]);
    const [header, first] = r.stdout.trim().split("\n");
    expect(header).toBe("bucket,tag.region,cost_usd,requests");
    expect(first).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00Z,(us-east|eu-west|ap-south),\d+(\.\d+)?,\d+$/);
  });

  it("fails with the field for a bad flag value", async () => {
    const grain = await costtrail(["report", "--grain", "minute"]);
    expect(grain.code).toBe(2);
    expect(grain.stderr).toContain("--grain: must be one of hour, day, week, month");
    const since = await costtrail(["report", "--since", "last tuesday"]);
    expect(since.stderr).toContain("--since: must be a duration");
    const where = await costtrail(["report", "--where", "feature"]);
    expect(where.stderr).toContain("--where: must be key=value");
    const server = await costtrail(["report", "--by", "colour"]);
    expect(server.code).toBe(2);
    expect(server.stderr).toContain("CT_INVALID_QUERY");
  });

  it("says where the server is when it cannot reach it", async () => {
    const r = await costtrail(["report"], { COSTTRAIL_URL: "http://127.0.0.1:9" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Cannot reach the Costtrail server at http://127.0.0.1:9");
  });
});

describe("costtrail export and keys", () => {
  it("exports Parquet, CSV and NDJSON files", async () => {
    for (const format of ["parquet", "csv", "ndjson"]) {
      const out = join(dir, `events.${format}`);
      const r = await costtrail(["export", "--format", format, "--out", out, "--where", "feature=support-chat"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/export: \d+ events/);
      expect((await stat(out)).size).toBeGreaterThan(100);
    }
    expect((await readFile(join(dir, "events.parquet"))).subarray(0, 4).toString()).toBe("PAR1");
    const first = JSON.parse((await readFile(join(dir, "events.ndjson"), "utf8")).split("\n")[0] as string);
    expect(first.feature).toBe("support-chat");
    expect(typeof first.cost_usd).toBe("string");
  });

  it("creates a read key limited to a project that sees only that project", async () => {
    const created = await costtrail(["keys", "create", "--name", "finance", "--scopes", "read", "--projects", "dev-tools", "--json"]);
    expect(created.code).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    expect(key).toMatch(/^ct_[0-9A-Za-z]{40}$/);
    const r = await costtrail(["report", "--by", "project", "--format", "json"], { COSTTRAIL_API_KEY: key });
    expect((JSON.parse(r.stdout) as Array<{ project: string }>).map((x) => x.project)).toEqual(["dev-tools"]);
    const ingest = await costtrail(["demo", "--events", "10"], { COSTTRAIL_API_KEY: key });
    expect(ingest.code).toBe(2);
    expect(ingest.stderr).toContain("CT_FORBIDDEN");
  });

  it("prints the hash of a key for costtrail.yaml", async () => {
    const r = await costtrail(["keys", "hash", ADMIN]);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe("costtrail prices", () => {
  it("lists the entries in force and shows a model's dated entries with the correction that changed one", async () => {
    const list = await costtrail(["prices", "list", "--provider", "anthropic"]);
    expect(list.code).toBe(0);
    const sonnet4 = list.stdout.split("\n").find((l) => l.startsWith("anthropic/claude-sonnet-4-0 "));
    expect(sonnet4).toContain("3 (>200000: 6)");
    expect(sonnet4).toContain("genai-prices@0.1.8 + anthropic-claude-sonnet-4-long-context");
    expect(list.stdout).not.toMatch(/^openai\//m);
    const show = await costtrail(["prices", "show", "openai/o3", "--at", "2025-05-01"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(
      "openai/o3 at 2025-05-01T00:00:00.000Z: priced by genai-prices@0.1.8:openai/o3+fix:openai-o3-cached-input-before-cut",
    );
    expect(show.stdout).toMatch(/▶ since ever +genai-prices@0\.1\.8:openai\/o3\+fix:openai-o3-cached-input-before-cut/);
    expect(show.stdout).toMatch(/cache_read_mtok +2\.5/);
    expect(show.stdout).toContain(
      "corrected by openai-o3-cached-input-before-cut: checked against https://platform.openai.com/docs/pricing on 2026-12-01",
    );
    expect(show.stdout).toMatch(/ {3}from 2025-06-10 +genai-prices@0\.1\.8:openai\/o3@2025-06-10/);
  });

  it("says what is wrong with a bad model name, and that an unknown model has no price", async () => {
    const bad = await costtrail(["prices", "show", "gpt-4o"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('<model>: give <provider>/<model>, e.g. openai/gpt-4o, got "gpt-4o"');
    const unknown = await costtrail(["prices", "show", "openai/no-such-model-xyz"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("CT_PRICE_NOT_FOUND");
  });

  it("lists the demo's unpriced self-hosted model with the counts the report has", async () => {
    const r = await costtrail(["prices", "unpriced", "--json"]);
    expect(r.code).toBe(0);
    const { models } = JSON.parse(r.stdout) as {
      models: Array<{ model: string; requests: number; first_seen: string; last_seen: string }>;
    };
    const report = await costtrail(["report", "--by", "model", "--metrics", "unpriced_requests", "--since", "3650d", "--format", "json"]);
    const fromReport = (JSON.parse(report.stdout) as Array<{ model: string; unpriced_requests: number }>).filter(
      (x) => x.unpriced_requests > 0,
    );
    expect(models.map((m) => [m.model, m.requests]).sort()).toEqual(fromReport.map((x) => [x.model, x.unpriced_requests]).sort());
    expect(models.map((m) => m.model)).toContain("llama-3-70b-internal");
    for (const m of models) expect(Date.parse(m.first_seen)).toBeLessThanOrEqual(Date.parse(m.last_seen));
    const table = await costtrail(["prices", "unpriced"]);
    expect(table.stdout).toMatch(/^\S+\/llama-3-70b-internal +\d+ /m);
    expect(table.stdout).toContain("Estimates use the nearest known model's rate and are never recorded");
  });

  it("checks the rate card against a LiteLLM table, all models or only those seen", async () => {
    const table = join(dir, "litellm.json");
    await writeFile(
      table,
      JSON.stringify({
        // Seen by the demo: output differs.
        "gpt-4o-mini": {
          litellm_provider: "openai",
          input_cost_per_token: 1.5e-7,
          cache_read_input_token_cost: 7.5e-8,
          output_cost_per_token: 9e-7,
        },
        // Not seen: input differs.
        "gpt-4.1": {
          litellm_provider: "openai",
          input_cost_per_token: 3e-6,
          cache_read_input_token_cost: 5e-7,
          output_cost_per_token: 8e-6,
        },
      }),
    );
    const all = await costtrail(["prices", "check", "--litellm", table, "--provider", "openai"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^openai\/gpt-4o-mini +output_mtok +0\.6 +0\.9 +differs +gpt-4o-mini$/m);
    expect(all.stdout).toMatch(/^openai\/gpt-4\.1 +input_mtok +2 +3 +differs +gpt-4\.1$/m);
    // LiteLLM's entries here carry no web search fee, which the rate card charges: a rate one side lacks.
    expect(all.stdout).toMatch(/^openai\/gpt-4\.1 +web_searches_kcount +10 +— +only_costtrail +gpt-4\.1$/m);
    expect(all.stdout).toContain("2 LiteLLM entries priced by the same provider's model in both; 4 disagreements");
    const seen = await costtrail(["prices", "check", "--litellm", table, "--seen", "--json"]);
    const result = JSON.parse(seen.stdout) as { compared: number; disagreements: Array<{ model: string; rate: string }> };
    expect(result.compared).toBe(1);
    expect(result.disagreements.map((d) => `${d.model} ${d.rate}`)).toEqual(["gpt-4o-mini output_mtok", "gpt-4o-mini web_searches_kcount"]);
    const missing = await costtrail(["prices", "check", "--litellm", join(dir, "nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--litellm: cannot read");
  });
});

describe("costtrail reprice", () => {
  it("dry-runs, asks for a reason, records a version, and reports both pricings side by side", async () => {
    const dry = await costtrail(["reprice", "--since", "3650d", "--dry-run"]);
    expect(dry.code).toBe(0);
    const events = Number(/dry run: (\d+) events priced again, nothing written/.exec(dry.stdout)?.[1]);
    expect(events).toBeGreaterThan(3000);
    // The same rate card as at ingest: the same total, the same unpriced requests, a difference of 0.
    expect(dry.stdout).toMatch(/^difference +0 +—$/m);
    const recorded = /^recorded +([\d.]+) +(\d+)$/m.exec(dry.stdout);
    expect(dry.stdout).toMatch(new RegExp(`^would be +${recorded?.[1]?.replace(".", "\\.")} +${recorded?.[2]}$`, "m"));
    const noReason = await costtrail(["reprice", "--since", "3650d"]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("--reason: say why these events are priced again (or use --dry-run)");
    const run = await costtrail(["reprice", "--since", "3650d", "--reason", "audit of the demo month"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`price version \\d+: ${events} events priced again \\(audit of the demo month; by `));
    expect(run.stdout).toContain('Recorded prices are kept; queries with "pricing": "current"');
    const none = await costtrail(["reprice", "--since", "2001-01-01T00:00:00Z", "--until", "2001-02-01T00:00:00Z", "--reason", "x"]);
    expect(none.stdout).toContain("reprice: no events match the selection; nothing was priced again");
    const both = await costtrail([
      "report",
      "--by",
      "model",
      "--since",
      "3650d",
      "--metrics",
      "cost_usd,unpriced_requests",
      "--pricing",
      "both",
      "--format",
      "json",
    ]);
    const rows = JSON.parse(both.stdout) as Array<Record<string, string | number | null>>;
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) {
      expect(r.cost_usd_current).toEqual(r.cost_usd_recorded);
      expect(r.unpriced_requests_current).toEqual(r.unpriced_requests_recorded);
      expect(r.cost_usd_difference).toBe(r.cost_usd_recorded === null ? null : "0");
    }
    const bad = await costtrail(["report", "--pricing", "later"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--pricing: must be recorded, current or both");
  });
});
