import { CosttrailError, GRAINS, METRICS } from "@costtrail/core";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { parseTimeArg, parseWhere } from "../time-arg.js";

interface ReportFlags {
  by?: string;
  grain?: string;
  since: string;
  until?: string;
  where: string[];
  metrics: string;
  limit?: string;
  timeZone?: string;
  format: string;
  url?: string;
  apiKey?: string;
}

type Row = Record<string, string | number | null>;

/** Rows as an aligned text table; numbers and money right-aligned. */
export function formatTable(rows: readonly Row[], columns: readonly string[]): string {
  if (rows.length === 0) return "(no rows)";
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? "—" : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const numeric = columns.map((c) => rows.every((r) => r[c] === null || typeof r[c] === "number" || /^-?\d+(\.\d+)?$/.test(String(r[c]))));
  const line = (vals: readonly string[]) =>
    vals
      .map((v, i) => (numeric[i] ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(columns), line(widths.map((w) => "─".repeat(w))), ...cells.map(line)].join("\n");
}

function csvCell(v: string | number | null): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatCsv(rows: readonly Row[], columns: readonly string[]): string {
  return [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c] ?? null)).join(","))].join("\n");
}

export function buildReportQuery(flags: ReportFlags, now = Date.now()): Record<string, unknown> {
  const groupBy = flags.by
    ? flags.by
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
  if (flags.grain !== undefined && !(GRAINS as readonly string[]).includes(flags.grain)) {
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--grain: must be one of ${GRAINS.join(", ")}, got ${JSON.stringify(flags.grain)}`, {
      path: ["--grain"],
    });
  }
  const metrics = flags.metrics.split(",").map((s) => s.trim());
  const bad = metrics.filter((m) => !(METRICS as readonly string[]).includes(m));
  if (bad.length > 0)
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--metrics: unknown ${bad.join(", ")}; one of ${METRICS.join(", ")}`, {
      path: ["--metrics"],
    });
  return {
    metrics,
    ...(groupBy.length > 0 && { group_by: groupBy }),
    ...(flags.grain && { grain: flags.grain }),
    ...(flags.timeZone && { time_zone: flags.timeZone }),
    from: parseTimeArg(flags.since, "--since", now),
    to: flags.until ? parseTimeArg(flags.until, "--until", now) : new Date(now).toISOString(),
    ...(flags.where.length > 0 && { filters: parseWhere(flags.where) }),
    ...(flags.limit && { limit: Number(flags.limit) }),
  };
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("cost and usage rollups by any column or tag, over time")
    .option("--by <columns>", "group by up to two columns or tag.<key>, comma-separated (e.g. feature,model)")
    .option("--grain <grain>", "time grain: hour, day, week or month")
    .option("--since <time>", "start: 7d, 24h, or an ISO time", "30d")
    .option("--until <time>", "end: a duration ago or an ISO time (default now)")
    .option("--where <key=value>", "filter, repeatable; key=a|b matches either", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--metrics <list>", "comma-separated metrics", "cost_usd,requests")
    .option("--limit <n>", "top N groups, the rest folded into (other)")
    .option("--time-zone <tz>", "IANA time zone for --grain buckets", "UTC")
    .option("--format <format>", "table, csv or json", "table")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ReportFlags) => {
      if (!["table", "csv", "json"].includes(flags.format))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--format: must be table, csv or json", { path: ["--format"] });
      const query = buildReportQuery(flags);
      const client = resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
      const { rows } = await client.json<{ rows: Row[] }>("POST", "/v1/query", query);
      const columns = [
        ...((query.grain ? ["bucket"] : []) as string[]),
        ...((query.group_by as string[] | undefined) ?? []),
        ...(query.metrics as string[]),
      ];
      const out =
        flags.format === "json"
          ? JSON.stringify(rows, null, 2)
          : flags.format === "csv"
            ? formatCsv(rows, columns)
            : formatTable(rows, columns);
      process.stdout.write(`${out}\n`);
    });
}
