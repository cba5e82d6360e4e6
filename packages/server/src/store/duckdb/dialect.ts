import { type Dimension, OTHER_GROUP, type QueryFilter, type QuerySpec, TOKEN_BUCKETS } from "@costtrail/core";
import type { ReadScope } from "../ledger-store.js";

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
  parts.push(`ts >= CAST(epoch_ms(CAST(${p.bind(from)} AS BIGINT)) AS TIMESTAMPTZ)`);
  parts.push(`ts < CAST(epoch_ms(CAST(${p.bind(to)} AS BIGINT)) AS TIMESTAMPTZ)`);
  for (const f of filters) parts.push(filterSql(f, p));
  return parts.join(" AND ");
}

const ALL_TOKENS = TOKEN_BUCKETS.map((b) => `coalesce("${b}", 0)`).join(" + ");

/** Aggregate SQL per metric over the events table. Money is cast to text to leave the store exact. */
function metricSql(m: string): string {
  switch (m) {
    case "cost_usd":
      // NULL when nothing in the group is priced: unknown is not $0.
      return `CAST(sum(cost_usd) AS VARCHAR)`;
    case "requests":
      return "count(*)";
    case "errors":
      return "count(*) FILTER (WHERE status = 'error')";
    case "unpriced_requests":
      return "count(*) FILTER (WHERE price_status = 'unpriced')";
    case "total_tokens":
      return `coalesce(sum(${ALL_TOKENS}), 0)`;
    case "web_search_calls":
      return `coalesce(sum(web_search_calls), 0)`;
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
      return `CAST(coalesce(sum(cost_usd), 0) AS VARCHAR) || '/' || CAST(count(*) AS VARCHAR)`;
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
      return "coalesce(cost_usd, 0)";
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

const STAT_SQL: Record<string, (v: string) => string> = {
  p50: (v) => `quantile_disc(${v}, 0.5)`,
  p90: (v) => `quantile_disc(${v}, 0.9)`,
  p95: (v) => `quantile_disc(${v}, 0.95)`,
  p99: (v) => `quantile_disc(${v}, 0.99)`,
  max: (v) => `max(${v})`,
  min: (v) => `min(${v})`,
  // Exact: sum and count, divided in decimal by the caller.
  mean: (v) => `CAST(sum(${v}) AS VARCHAR) || '/' || CAST(count(*) AS VARCHAR)`,
  count: () => "count(*)",
};

function bucketSql(spec: QuerySpec, p: Params): string {
  return `date_trunc('${spec.grain}', timezone(${p.bind(spec.time_zone)}, ts))`;
}

function orderSql(spec: QuerySpec, aliases: Map<string, string>): string {
  const parts = spec.order_by.map((o) => `${aliases.get(o.key) ?? "1"} ${o.desc ? "DESC" : "ASC"} NULLS LAST`);
  if (parts.length === 0) {
    if (spec.grain) parts.push("bucket ASC");
    const first = spec.distribution ? `${spec.distribution.metric}_${spec.distribution.stats[0]}` : spec.metrics[0];
    if (first) parts.push(`${aliases.get(first)} DESC NULLS LAST`);
  }
  // Ties broken by the group columns, so pages and tests are deterministic.
  for (let i = 0; i < spec.group_by.length; i++) parts.push(`g${i} ASC NULLS LAST`);
  return parts.join(", ");
}

/** Sort key for ranking groups in the "other" fold: numeric for money kept as text. */
function rankSql(key: string, m: string): string {
  if (m === "cost_usd") return `CAST(${key} AS DECIMAL(38,18))`;
  return key;
}

/**
 * Compiles a query. Output columns: `g0…` for group_by, `bucket_local` and `bucket_utc_ms`
 * for the grain, `m0…` for metrics, `s0…` for distribution stats.
 */
export function compileQuery(spec: QuerySpec, scope: ReadScope): Compiled {
  const p = new Params();
  const where = whereSql(scope, spec.from, spec.to, spec.filters, p);
  const groups = spec.group_by.map((d, i) => `${dimensionSql(d, p)} AS g${i}`);
  const gNames = spec.group_by.map((_, i) => `g${i}`);
  const aliases = new Map<string, string>();
  for (const [i, d] of spec.group_by.entries()) aliases.set(d, `g${i}`);
  for (const [i, m] of spec.metrics.entries()) aliases.set(m, m === "cost_usd" ? `CAST(m${i} AS DECIMAL(38,18))` : `m${i}`);
  if (spec.grain) aliases.set("bucket", "bucket");
  const bucketSel = spec.grain ? [`${bucketSql(spec, p)} AS bucket`] : [];
  const tz = spec.grain ? p.bind(spec.time_zone) : "";
  const bucketOut = spec.grain
    ? [`strftime(bucket, '%Y-%m-%dT%H:%M:%S') AS bucket_local`, `epoch_ms(timezone(${tz}, bucket)) AS bucket_utc_ms`]
    : [];

  if (spec.distribution) {
    const d = spec.distribution;
    const per = dimensionSql(d.per, p);
    const inner = `SELECT ${[...groups, ...bucketSel, `${per} AS per_key`, `sum(${additiveValueSql(d.metric)}) AS v`, ...spec.metrics.map((m, i) => `sum(${additiveValueSql(m)}) AS a${i}`)].join(", ")}
      FROM events WHERE ${where} AND ${per} IS NOT NULL
      GROUP BY ALL`;
    for (const [i, s] of d.stats.entries()) aliases.set(`${d.metric}_${s}`, `s${i}`);
    const outer = [
      ...gNames,
      ...bucketOut,
      ...d.stats.map(
        (s, i) =>
          `${d.metric === "cost_usd" && s !== "count" && s !== "mean" ? `CAST(${STAT_SQL[s]?.("v")} AS VARCHAR)` : STAT_SQL[s]?.("v")} AS s${i}`,
      ),
      ...spec.metrics.map((m, i) => `${m === "cost_usd" ? `CAST(sum(a${i}) AS VARCHAR)` : `sum(a${i})`} AS m${i}`),
    ];
    const groupBy = [...gNames, ...(spec.grain ? ["bucket"] : [])];
    const sql = `WITH per AS (${inner}) SELECT ${outer.join(", ")} FROM per ${groupBy.length ? `GROUP BY ${groupBy.join(", ")}` : ""}
      ORDER BY ${orderSql(spec, aliases)}${spec.limit ? ` LIMIT ${spec.limit}` : ""}`;
    return { sql, params: p.values };
  }

  const metrics = spec.metrics.map((m, i) => `${metricSql(m)} AS m${i}`);
  const groupBy = [...gNames, ...(spec.grain ? ["bucket"] : [])];
  if (!spec.other || spec.limit === null) {
    const sql = `SELECT ${[...groups, ...bucketSel, ...metrics].join(", ")} FROM events WHERE ${where}
      ${groupBy.length ? `GROUP BY ${groupBy.join(", ")}` : ""}`;
    const outer = `SELECT ${[...gNames, ...bucketOut, ...spec.metrics.map((_, i) => `m${i}`)].join(", ")} FROM (${sql})
      ORDER BY ${orderSql(spec, aliases)}${spec.limit ? ` LIMIT ${spec.limit}` : ""}`;
    return { sql: outer, params: p.values };
  }

  // Top `limit` groups by the order metric over the whole range; the rest fold into one "(other)" group.
  const rankKey = spec.order_by[0]?.key ?? spec.metrics[0] ?? "requests";
  const rankMetric = (spec.metrics as readonly string[]).includes(rankKey) ? rankKey : "requests";
  const rankDesc = spec.order_by[0]?.desc ?? true;
  const rankExpr = gNames.includes(aliases.get(rankKey) ?? "") ? (aliases.get(rankKey) as string) : rankSql("r", rankMetric);
  const other = p.bind(OTHER_GROUP);
  const sql = `WITH base AS (SELECT * , ${groups.join(", ")}${bucketSel.length ? `, ${bucketSel[0]}` : ""} FROM events WHERE ${where}),
    ranked AS (SELECT ${gNames.join(", ")}, row_number() OVER (ORDER BY ${rankExpr} ${rankDesc ? "DESC" : "ASC"} NULLS LAST, ${gNames.map((g) => `${g} ASC NULLS LAST`).join(", ")}) AS rn
      FROM (SELECT ${gNames.join(", ")}, ${metricSql(rankMetric)} AS r FROM base GROUP BY ALL)),
    folded AS (SELECT ${gNames.map((g) => `CASE WHEN k.rn <= ${spec.limit} THEN b.${g} ELSE ${other} END AS ${g}`).join(", ")}, k.rn <= ${spec.limit} AS kept,
      b.* EXCLUDE (${gNames.join(", ")})
      FROM base b JOIN ranked k ON ${gNames.map((g) => `b.${g} IS NOT DISTINCT FROM k.${g}`).join(" AND ")})
    SELECT ${[...gNames, ...bucketOut, ...spec.metrics.map((m, i) => `${metricSql(m)} AS m${i}`)].join(", ")}, bool_or(kept) AS kept
    FROM folded GROUP BY ${[...gNames, ...(spec.grain ? ["bucket"] : [])].join(", ")}
    ORDER BY kept DESC, ${orderSql(spec, aliases)}`;
  return { sql, params: p.values };
}

export { Params };
