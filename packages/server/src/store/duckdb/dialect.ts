import { type Dimension, OTHER_GROUP, type QueryFilter, type QuerySpec, TOKEN_BUCKETS } from "@costtrail/core";
import type { ReadScope } from "../ledger-store.js";
import { offsetSegments } from "../time-zone.js";
import { EXACT_COST, SUM_COST } from "./schema.js";

/** SQL text with its bound values. Values are never spliced into the text. */
export interface Compiled {
  readonly sql: string;
  readonly params: unknown[];
}

class Params {
  readonly values: unknown[] = [];
  bind(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** A dimension's SQL: a whitelisted column name, or the tag map read with a bound key. */
export function dimensionSql(d: Dimension, p: Params): string {
  if (d.startsWith("tag.")) return `tags[${p.bind(d.slice(4))}]`;
  return `"${d}"`;
}

function filterSql(f: QueryFilter, p: Params): string {
  const col = dimensionSql(f.column, p);
  switch (f.op) {
    case "eq":
      return `${col} = ${p.bind(f.value)}`;
    case "not":
      return `${col} IS DISTINCT FROM ${p.bind(f.value)}`;
    case "in":
      return `${col} IN (${(f.value as string[]).map((v) => p.bind(v)).join(", ")})`;
    case "not_in":
      return `(${col} IS NULL OR ${col} NOT IN (${(f.value as string[]).map((v) => p.bind(v)).join(", ")}))`;
    case "prefix":
      return `starts_with(${col}, ${p.bind(f.value)})`;
    case "exists":
      return `${col} IS NOT NULL`;
    case "not_exists":
      return `${col} IS NULL`;
    default:
      throw new Error(`no SQL for filter op ${String(f.op)}`);
  }
}

/** The one place a read's WHERE is built: scope first, then time range, then filters. */
export function whereSql(scope: ReadScope, from: number, to: number, filters: readonly QueryFilter[], p: Params): string {
  const parts: string[] = [];
  if (scope.projects !== null) {
    parts.push(scope.projects.length === 0 ? "FALSE" : `project IN (${scope.projects.map((x) => p.bind(x)).join(", ")})`);
  }
  parts.push(`ts >= epoch_ms(CAST(${p.bind(from)} AS BIGINT))`);
  parts.push(`ts < epoch_ms(CAST(${p.bind(to)} AS BIGINT))`);
  for (const f of filters) parts.push(filterSql(f, p));
  return parts.join(" AND ");
}

const ALL_TOKENS = TOKEN_BUCKETS.map((b) => `coalesce("${b}", 0)`).join(" + ");

/** Compile options that depend on the data: whether any event in range has a cost residual. */
export interface CompileOptions {
  readonly residuals: boolean;
  /**
   * A distribution of cost sums each run into a 64-bit DECIMAL(18,12) (cheaper to sort than
   * 128 bits). A run of a million dollars or more does not fit: its group then reports `ovf`
   * above zero, and the caller compiles again with this off.
   */
  readonly narrowRunCost?: boolean;
}

/** Raw aggregate per metric. Money stays DECIMAL here so it sorts as a number; it becomes text only on the way out. */
function metricSql(m: string, sumCost: string): string {
  switch (m) {
    case "cost_usd":
      // NULL when nothing in the group is priced: unknown is not $0.
      return sumCost;
    case "requests":
      return "count(*)";
    case "errors":
      return "count(*) FILTER (WHERE status = 'error')";
    case "unpriced_requests":
      return "count(*) FILTER (WHERE price_status = 'unpriced')";
    case "total_tokens":
      return `coalesce(sum(${ALL_TOKENS}), 0)`;
    case "web_search_calls":
      return "coalesce(sum(web_search_calls), 0)";
    case "latency_ms_p50":
      return "quantile_cont(latency_ms, 0.5)";
    case "latency_ms_p90":
      return "quantile_cont(latency_ms, 0.9)";
    case "latency_ms_p99":
      return "quantile_cont(latency_ms, 0.99)";
    case "latency_ms_max":
      return "max(latency_ms)";
    case "ttft_ms_p50":
      return "quantile_cont(ttft_ms, 0.5)";
    case "ttft_ms_p99":
      return "quantile_cont(ttft_ms, 0.99)";
    case "cost_per_request_usd":
      // Exact sum and count leave the store; the division is done in decimal by the caller.
      return `CAST(coalesce(${sumCost}, 0) AS VARCHAR) || '/' || CAST(count(*) AS VARCHAR)`;
    case "error_rate":
      return "CAST(count(*) FILTER (WHERE status = 'error') AS DOUBLE) / count(*)";
    case "unique_users":
      return "count(DISTINCT user_id)";
    case "unique_agent_runs":
      return "count(DISTINCT agent_run_id)";
    default:
      if ((TOKEN_BUCKETS as readonly string[]).includes(m)) return `coalesce(sum("${m}"), 0)`;
      throw new Error(`no SQL for metric ${m}`);
  }
}

/** A per-row value for a distribution's inner sum. */
function additiveValueSql(m: string): string {
  switch (m) {
    case "cost_usd":
      return `coalesce(${EXACT_COST}, 0)`;
    case "requests":
      return "1";
    case "errors":
      return "CASE WHEN status = 'error' THEN 1 ELSE 0 END";
    case "unpriced_requests":
      return "CASE WHEN price_status = 'unpriced' THEN 1 ELSE 0 END";
    case "total_tokens":
      return `(${ALL_TOKENS})`;
    default:
      return `coalesce("${m}", 0)`;
  }
}

/** A group's sum of an additive metric; cost sums its two stored parts separately (cheap). */
function additiveSumSql(m: string, sumCost: string): string {
  return m === "cost_usd" ? `coalesce(${sumCost}, 0)` : `sum(${additiveValueSql(m)})`;
}

/** Quantile stats and their fractions; they are computed together, in one sort per group. */
const QUANTILES: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

const STAT_SQL: Record<string, (v: string) => string> = {
  max: (v) => `max(${v})`,
  min: (v) => `min(${v})`,
  // Exact: sum and count, divided in decimal by the caller.
  mean: (v) => `CAST(sum(${v}) AS VARCHAR) || '/' || CAST(count(*) AS VARCHAR)`,
  count: () => "count(*)",
};

/** Exact decimal text without the store's trailing zeros ("12.500000000000000000" → "12.5"). */
function moneyText(expr: string): string {
  return `CASE WHEN ${expr} IS NULL THEN NULL ELSE rtrim(rtrim(CAST(${expr} AS VARCHAR), '0'), '.') END`;
}

/** Local wall time: UTC plus the zone's offset, chosen by which side of each transition the row is. */
function localTimeSql(spec: QuerySpec, p: Params): string {
  const segments = offsetSegments(spec.time_zone, spec.from, spec.to);
  if (segments.length === 1) {
    const only = segments[0]?.offsetMin ?? 0;
    return only === 0 ? "ts" : `ts + to_minutes(CAST(${p.bind(only)} AS BIGINT))`;
  }
  const cases = segments
    .slice(0, -1)
    .map((s) => `WHEN ts < epoch_ms(CAST(${p.bind(s.untilMs)} AS BIGINT)) THEN ${p.bind(s.offsetMin)}`)
    .join(" ");
  return `ts + to_minutes(CAST(CASE ${cases} ELSE ${p.bind(segments.at(-1)?.offsetMin ?? 0)} END AS BIGINT))`;
}

interface Output {
  /** Column alias in the grouped relation. */
  readonly alias: string;
  /** Key in the JSON row handed back. */
  readonly key: string;
  /** How the value leaves the store. */
  readonly json: string;
}

/**
 * Compiles a query into one statement that answers a single JSON text: the rows, already
 * ordered and limited. DuckDB builds the JSON natively, which is several times faster than
 * reading wide results value by value. Output keys: `g0…` for group_by, `b` (local wall time
 * in epoch ms) for the grain, `m0…` for metrics, `s0…` for distribution stats.
 */
export function compileQuery(spec: QuerySpec, scope: ReadScope, options: CompileOptions = { residuals: true }): Compiled {
  // Without residuals in range the cheap 64-bit part is the exact sum on its own.
  const sumCost = options.residuals ? SUM_COST : "sum(cost_usd)";
  const p = new Params();
  const where = whereSql(scope, spec.from, spec.to, spec.filters, p);
  const groups = spec.group_by.map((d, i) => `${dimensionSql(d, p)} AS g${i}`);
  const gNames = spec.group_by.map((_, i) => `g${i}`);
  const bucket = spec.grain ? `date_trunc('${spec.grain}', ${localTimeSql(spec, p)})` : null;
  const keys = [...gNames, ...(bucket ? ["bucket"] : [])];
  const outputs: Output[] = [
    ...gNames.map((g) => ({ alias: g, key: g, json: g })),
    ...(bucket ? [{ alias: "bucket", key: "b", json: "epoch_ms(bucket)" }] : []),
  ];
  const sortKey = new Map<string, string>();
  for (const [i, d] of spec.group_by.entries()) sortKey.set(d, `g${i}`);
  if (bucket) sortKey.set("bucket", "bucket");

  let relation: string;
  if (spec.distribution) {
    const d = spec.distribution;
    const per = dimensionSql(d.per, p);
    const narrow = d.metric === "cost_usd" && options.narrowRunCost === true;
    const runSum = additiveSumSql(d.metric, sumCost);
    const inner = `SELECT ${[...groups, ...(bucket ? [`${bucket} AS bucket`] : []), `${per} AS per_key`, `${narrow ? `TRY_CAST(${runSum} AS DECIMAL(18,12))` : runSum} AS v`, ...spec.metrics.map((m, i) => `${additiveSumSql(m, sumCost)} AS a${i}`)].join(", ")}
      FROM events WHERE ${where} AND ${per} IS NOT NULL GROUP BY ALL`;
    // Every quantile asked for comes from one quantile_disc call (one sort per group).
    const fractions = d.stats.filter((s) => QUANTILES[s] !== undefined).map((s) => QUANTILES[s] as number);
    const cols = [
      ...keys,
      ...(fractions.length > 0 ? [`quantile_disc(v, [${fractions.join(", ")}]) AS q`] : []),
      ...(narrow ? ["count(*) FILTER (WHERE v IS NULL) AS ovf"] : []),
      ...spec.metrics.map((_, i) => `sum(a${i}) AS m${i}`),
      ...d.stats.flatMap((s, i) => (QUANTILES[s] === undefined ? [`${STAT_SQL[s]?.("v")} AS s${i}`] : [])),
    ];
    const stats = d.stats.map((s, i) =>
      QUANTILES[s] === undefined ? `s${i}` : `q[${fractions.indexOf(QUANTILES[s] as number) + 1}] AS s${i}`,
    );
    relation = `SELECT ${[...keys, ...stats, ...(narrow ? ["ovf"] : []), ...spec.metrics.map((_, i) => `m${i}`)].join(", ")}
      FROM (SELECT ${cols.join(", ")} FROM (${inner}) ${keys.length ? `GROUP BY ${keys.join(", ")}` : ""})`;
    if (narrow) outputs.push({ alias: "ovf", key: "ovf", json: "ovf" });
    for (const [i, s] of d.stats.entries()) {
      const money = d.metric === "cost_usd" && s !== "count" && s !== "mean";
      outputs.push({ alias: `s${i}`, key: `s${i}`, json: money ? moneyText(`s${i}`) : `s${i}` });
      sortKey.set(`${d.metric}_${s}`, `s${i}`);
    }
  } else if (spec.other && spec.limit !== null) {
    // Top `limit` groups by the order metric over the whole range; the rest fold into one "(other)" group.
    const rankKey = spec.order_by[0]?.key ?? spec.metrics[0] ?? "requests";
    const rankDesc = spec.order_by[0]?.desc ?? true;
    const groupIndex = spec.group_by.indexOf(rankKey as never);
    const rankMetric = (spec.metrics as readonly string[]).includes(rankKey) ? rankKey : "requests";
    const rankExpr = groupIndex >= 0 ? `g${groupIndex}` : "r";
    const other = p.bind(OTHER_GROUP);
    relation = `WITH base AS (SELECT *, ${groups.join(", ")}${bucket ? `, ${bucket} AS bucket` : ""} FROM events WHERE ${where}),
      ranked AS (SELECT ${gNames.join(", ")}, row_number() OVER (ORDER BY ${rankExpr} ${rankDesc ? "DESC" : "ASC"} NULLS LAST, ${gNames.map((g) => `${g} ASC NULLS LAST`).join(", ")}) AS rn
        FROM (SELECT ${gNames.join(", ")}, ${metricSql(rankMetric, sumCost)} AS r FROM base GROUP BY ALL)),
      folded AS (SELECT ${gNames.map((g) => `CASE WHEN k.rn <= ${spec.limit} THEN b.${g} ELSE ${other} END AS ${g}`).join(", ")}, k.rn <= ${spec.limit} AS kept,
        b.* EXCLUDE (${gNames.join(", ")})
        FROM base b JOIN ranked k ON ${gNames.map((g) => `b.${g} IS NOT DISTINCT FROM k.${g}`).join(" AND ")})
      SELECT ${[...keys, ...spec.metrics.map((m, i) => `${metricSql(m, sumCost)} AS m${i}`)].join(", ")}, bool_or(kept) AS kept
      FROM folded GROUP BY ${keys.join(", ")}`;
  } else {
    relation = `SELECT ${[...groups, ...(bucket ? [`${bucket} AS bucket`] : []), ...spec.metrics.map((m, i) => `${metricSql(m, sumCost)} AS m${i}`)].join(", ")}
      FROM events WHERE ${where} ${keys.length ? `GROUP BY ${gNames.length ? gNames.join(", ") : ""}${gNames.length && bucket ? ", " : ""}${bucket ? "bucket" : ""}` : ""}`;
  }
  for (const [i, m] of spec.metrics.entries()) {
    outputs.push({ alias: `m${i}`, key: `m${i}`, json: m === "cost_usd" ? moneyText(`m${i}`) : `m${i}` });
    sortKey.set(m, `m${i}`);
  }

  const order = spec.order_by.map((o) => `${sortKey.get(o.key) ?? "1"} ${o.desc ? "DESC" : "ASC"} NULLS LAST`);
  if (order.length === 0) {
    if (bucket) order.push("bucket ASC");
    const first = spec.distribution ? `${spec.distribution.metric}_${spec.distribution.stats[0]}` : spec.metrics[0];
    const k = first ? sortKey.get(first) : undefined;
    if (k) order.push(`${k} DESC NULLS LAST`);
  }
  // Ties broken by the group columns, so pages and tests are deterministic; kept groups before "(other)".
  for (const g of gNames) order.push(`${g} ASC NULLS LAST`);
  if (spec.other && spec.limit !== null && !spec.distribution) order.unshift("kept DESC");
  const limited = spec.limit !== null && !(spec.other && !spec.distribution);
  const rows = `SELECT * FROM (${relation}) ORDER BY ${order.join(", ")}${limited ? ` LIMIT ${spec.limit}` : ""}`;
  const sql = `SELECT '[' || coalesce(string_agg(CAST(json_object(${outputs.map((o) => `'${o.key}', ${o.json}`).join(", ")}) AS VARCHAR), ',' ORDER BY ${order.join(", ")}), '') || ']' AS j
    FROM (${rows})`;
  return { sql, params: p.values };
}

export { Params };
