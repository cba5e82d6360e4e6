import { CosttrailError } from "@costtrail/core";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { formatTable } from "./report.js";

interface ServerFlags {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** A budget scope as GET /v1/budgets lists it. */
export interface BudgetRow {
  name: string;
  scope: string | null;
  period: string;
  rolling: boolean;
  window: { from: string; to: string };
  limit_usd: string;
  override_usd: string;
  spent_usd: string;
  reserved_usd: string;
  percent: number;
  state: string;
  forecast_exhausted_at: string | null;
  forecast_exhausts_in_period: boolean;
}

export interface AlertRow {
  id: string;
  rule: string;
  type: string;
  severity: string;
  state: string;
  title: string;
  opened_at: string;
  resolved_at: string | null;
  deliveries: Array<{ destination: string; action: string; state: string; attempts: number }>;
}

function client(flags: ServerFlags) {
  return resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
}

function write(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** "2026-12-11T04:00:00.000Z" → "2026-12-11 04:00Z". */
function shortTime(iso: string | null): string | null {
  return iso === null ? null : `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

/** The table `costtrail budgets` prints: one row per budget scope. */
export function formatBudgets(rows: readonly BudgetRow[]): string {
  const table = rows.map((b) => ({
    budget: b.name,
    scope: b.scope,
    period: `${b.rolling ? "rolling " : ""}${b.period}`,
    spent: b.spent_usd,
    reserved: b.reserved_usd,
    limit: b.override_usd === "0" ? b.limit_usd : `${b.limit_usd} (+${b.override_usd})`,
    "%": b.percent.toFixed(1),
    state: b.state,
    "runs out":
      b.forecast_exhausted_at === null ? null : `${shortTime(b.forecast_exhausted_at)}${b.forecast_exhausts_in_period ? " !" : ""}`,
  }));
  return `${formatTable(table, ["budget", "scope", "period", "spent", "reserved", "limit", "%", "state", "runs out"])}\n\nUSD. "runs out": when the limit is reached at the burn rate so far; "!" when that is before the period ends.`;
}

export function formatAlerts(rows: readonly AlertRow[]): string {
  const table = rows.map((a) => ({
    opened: shortTime(a.opened_at),
    state: a.state === "resolved" ? `resolved ${shortTime(a.resolved_at)}` : "open",
    severity: a.severity,
    rule: a.rule,
    alert: a.title.length > 110 ? `${a.title.slice(0, 109)}…` : a.title,
    sent: a.deliveries.map((d) => `${d.destination}:${d.state}`).join(" ") || null,
  }));
  return formatTable(table, ["opened", "state", "severity", "rule", "alert", "sent"]);
}

export function registerBudgets(program: Command): void {
  program
    .command("budgets")
    .description("each budget scope: spent, reserved by calls in flight, limit, percent, state and when it runs out (GET /v1/budgets)")
    .option("--json", "print the server's JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ServerFlags) => {
      const r = await client(flags).json<{ budgets: BudgetRow[] }>("GET", "/v1/budgets");
      write(
        flags.json
          ? JSON.stringify(r, null, 2)
          : r.budgets.length === 0
            ? "No budgets: add them under budgets: in costtrail.yaml."
            : formatBudgets(r.budgets),
      );
    });
}

export function registerAlerts(program: Command): void {
  program
    .command("alerts")
    .description("open and past alerts, newest first, with where each was sent (GET /v1/alerts)")
    .option("--open", "only open alerts")
    .option("--resolved", "only resolved alerts")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print the server's JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ServerFlags & { open?: boolean; resolved?: boolean; limit: string }) => {
      if (flags.open && flags.resolved)
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--open and --resolved: give one or neither", { path: ["--open"] });
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new CosttrailError("CT_INVALID_ARGUMENT", `--limit: must be an integer from 1 to 1000, got ${JSON.stringify(flags.limit)}`, {
          path: ["--limit"],
        });
      const q = new URLSearchParams({ limit: String(limit) });
      if (flags.open) q.set("state", "open");
      if (flags.resolved) q.set("state", "resolved");
      const r = await client(flags).json<{ alerts: AlertRow[] }>("GET", `/v1/alerts?${q}`);
      write(flags.json ? JSON.stringify(r, null, 2) : r.alerts.length === 0 ? "No alerts." : formatAlerts(r.alerts));
    });
}
