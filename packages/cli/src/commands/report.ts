import { CosttrailError, Decimal, GRAINS, METRICS, MONEY_METRICS } from "@costtrail/core";
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
  pricing: string;
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

/** Each metric as recorded and as currently priced; money also as their difference. */
function bothColumns(m: string): string[] {
  return MONEY_METRICS.has(m) ? [`${m}_recorded`, `${m}_current`, `${m}_difference`] : [`${m}_recorded`, `${m}_current`];
}

/** Recorded and current rows side by side, matched on their groups (and bucket), in the current rows' order. */
export function bothPricings(
  recorded: readonly Row[],
  current: readonly Row[],
  keys: readonly string[],
  metrics: readonly string[],
): Row[] {
  const keyOf = (r: Row) => JSON.stringify(keys.map((k) => r[k] ?? null));
  const byKey = new Map(recorded.map((r) => [keyOf(r), r]));
  const seen = new Set<string>();
  const out: Row[] = [];
  const merge = (rec: Row | undefined, cur: Row | undefined) => {
    const base = (cur ?? rec) as Row;
    const row: Row = Object.fromEntries(keys.map((k) => [k, base[k] ?? null]));
    for (const m of metrics) {
      const a = rec?.[m] ?? null;
      const b = cur?.[m] ?? null;
      row[`${m}_recorded`] = a;
      row[`${m}_current`] = b;
      if (MONEY_METRICS.has(m))
        row[`${m}_difference`] =
          a === null || b === null
            ? null
            : Decimal.parse(String(b))
                .sub(Decimal.parse(String(a)))
                .normalize()
                .toString();
    }
    out.push(row);
  };
  for (const cur of current) {
    const k = keyOf(cur);
    seen.add(k);
    merge(byKey.get(k), cur);
  }
  for (const rec of recorded) if (!seen.has(keyOf(rec))) merge(rec, undefined);
  return out;
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
    .option("--pricing <pricing>", "recorded, current (after costtrail reprice) or both, side by side with the difference", "recorded")
    .option("--format <format>", "table, csv or json", "table")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ReportFlags) => {
      if (!["table", "csv", "json"].includes(flags.format))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--format: must be table, csv or json", { path: ["--format"] });
      if (!["recorded", "current", "both"].includes(flags.pricing))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--pricing: must be recorded, current or both", { path: ["--pricing"] });
      const query = buildReportQuery(flags);
      const client = resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
      const keys = [...((query.grain ? ["bucket"] : []) as string[]), ...((query.group_by as string[] | undefined) ?? [])];
      const fetchRows = async (pricing: string) => (await client.json<{ rows: Row[] }>("POST", "/v1/query", { ...query, pricing })).rows;
      const both = flags.pricing === "both";
      const rows = both
        ? bothPricings(await fetchRows("recorded"), await fetchRows("current"), keys, query.metrics as string[])
        : await fetchRows(flags.pricing);
      const columns = [...keys, ...(both ? (query.metrics as string[]).flatMap(bothColumns) : (query.metrics as string[]))];
      const out =
        flags.format === "json"
          ? JSON.stringify(rows, null, 2)
          : flags.format === "csv"
            ? formatCsv(rows, columns)
            : formatTable(rows, columns);
      process.stdout.write(`${out}\n`);
    });
}
