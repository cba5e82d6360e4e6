import { type Dimension, OTHER_GROUP, type QueryFilter, type QuerySpec, TOKEN_BUCKETS } from "@costtrail/core";
import type { EventCursor, LedgerDialect, PlainValue, RollupRow, RunStatement, Statement } from "../ledger-driver.js";
import type { EventListRequest, ExportFormat, ReadScope, StoredApiKey } from "../ledger-store.js";
import { offsetSegments } from "../time-zone.js";
import { EVENT_LIST_COLUMNS, EXACT_COST, SUM_COST } from "./schema.js";

/**
 * DuckDB's SQL for the ledger. Every value is bound as a parameter: a statement is text that
 * names `$1, $2…` and the list of values beside it, built by one Params per statement.
 */
export class Params {
  readonly values: unknown[] = [];
  bind(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

// ── Columns, filters, the WHERE every read shares ──────────────────────────────────────────

/** A dimension's SQL: a whitelisted column name, or the tag map read with a bound key. */
export function dimensionSql(d: Dimension, p: Params): string {
  if (d.startsWith("tag.")) return `tags[${p.bind(d.slice(4))}]`;
  return `"${d}"`;
}

function bindList(values: readonly string[], p: Params): string {
  return values.map((v) => p.bind(v)).join(", ");
}

function filterSql(f: QueryFilter, p: Params): string {
  const col = dimensionSql(f.column, p);
  switch (f.op) {
    case "eq":
      return `${col} = ${p.bind(f.value)}`;
    case "not":
      return `${col} IS DISTINCT FROM ${p.bind(f.value)}`;
    case "in":
      return `${col} IN (${bindList(f.value as string[], p)})`;
    case "not_in":
      return `(${col} IS NULL OR ${col} NOT IN (${bindList(f.value as string[], p)}))`;
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

function epochMs(p: Params, ms: number): string {
  return `epoch_ms(CAST(${p.bind(ms)} AS BIGINT))`;
}

/** The one place a read's WHERE is built: the key's scope first, then the time range, then filters. */
export function whereSql(scope: ReadScope, from: number, to: number, filters: readonly QueryFilter[], p: Params): string {
  const parts: string[] = [];
  if (scope.projects !== null) parts.push(scope.projects.length === 0 ? "FALSE" : `project IN (${bindList(scope.projects, p)})`);
  parts.push(`ts >= ${epochMs(p, from)}`, `ts < ${epochMs(p, to)}`);
  for (const f of filters) parts.push(filterSql(f, p));
  return parts.join(" AND ");
}

// ── Metrics ────────────────────────────────────────────────────────────────────────────────

const ALL_TOKENS = TOKEN_BUCKETS.map((b) => `coalesce("${b}", 0)`).join(" + ");

/** A group's aggregate for a metric. Money stays DECIMAL here so it sorts as a number; it becomes text on the way out. */
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
      // Exact sum and count leave the store; the division is done in decimal above the driver.
      // NULL (unknown, not $0) when nothing in the group is priced.
      return `CAST(${sumCost} AS VARCHAR) || '/' || CAST(count(*) AS VARCHAR)`;
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

/** A group's sum of an additive metric; cost sums its two stored parts separately (cheap), NULL when none is priced. */
function additiveSumSql(m: string, sumCost: string): string {
  return m === "cost_usd" ? sumCost : `sum(${additiveValueSql(m)})`;
}

/** Quantile stats and their fractions; they are computed together, in one sort per group. */
const QUANTILES: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

const STAT_SQL: Record<string, (v: string) => string> = {
  max: (v) => `max(${v})`,
  min: (v) => `min(${v})`,
  // Exact: sum and count, divided in decimal above the driver; runs with nothing priced are left out.
  mean: (v) => `CAST(sum(${v}) AS VARCHAR) || '/' || CAST(count(${v}) AS VARCHAR)`,
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
    .map((s) => `WHEN ts < ${epochMs(p, s.untilMs)} THEN ${p.bind(s.offsetMin)}`)
    .join(" ");
  return `ts + to_minutes(CAST(CASE ${cases} ELSE ${p.bind(segments.at(-1)?.offsetMin ?? 0)} END AS BIGINT))`;
}

// ── Rollups ────────────────────────────────────────────────────────────────────────────────

/** Data-dependent choices for one rollup statement. */
export interface RollupOptions {
  /** Whether any event in range carries a cost residual; without one, the 64-bit part is the exact sum. */
  readonly residuals: boolean;
  /**
   * A distribution of cost sums each run into a 64-bit DECIMAL(18,12), cheaper to sort than
   * 128 bits. A run of a million dollars or more does not fit: its group then reports
   * `overflow` above zero, and the rollup is compiled again with this off.
   */
  readonly narrowRunCost: boolean;
}

/** The pieces every rollup shape shares: where, group columns, bucket, and what leaves the statement. */
class RollupParts {
  readonly p = new Params();
  readonly sumCost: string;
  readonly where: string;
  /** `expr AS group_i` for each group_by dimension. */
  readonly groupSelects: string[];
  readonly groupNames: string[];
  /** The bucket expression, or null without a grain. */
  readonly bucket: string | null;
  /** What the outer statement groups by. */
  readonly keys: string[];
  /** Output columns: alias → how its value leaves the statement as JSON. */
  readonly outputs: Array<{ readonly alias: string; readonly json: string }> = [];
  /** API sort key (dimension, `bucket`, metric, `<metric>_<stat>`) → alias. */
  readonly sortAlias = new Map<string, string>();

  constructor(
    readonly spec: QuerySpec,
    scope: ReadScope,
    readonly options: RollupOptions,
  ) {
    this.sumCost = options.residuals ? SUM_COST : "sum(cost_usd)";
    this.where = whereSql(scope, spec.from, spec.to, spec.filters, this.p);
    this.groupNames = spec.group_by.map((_, i) => `group_${i}`);
    this.groupSelects = spec.group_by.map((d, i) => `${dimensionSql(d, this.p)} AS group_${i}`);
    this.bucket = spec.grain ? `date_trunc('${spec.grain}', ${localTimeSql(spec, this.p)})` : null;
    this.keys = [...this.groupNames, ...(this.bucket ? ["bucket"] : [])];
    for (const [i, d] of spec.group_by.entries()) {
      this.outputs.push({ alias: `group_${i}`, json: `group_${i}` });
      this.sortAlias.set(d, `group_${i}`);
    }
    if (this.bucket) {
      this.outputs.push({ alias: "bucket", json: "epoch_ms(bucket)" });
      this.sortAlias.set("bucket", "bucket");
    }
  }

  bucketSelect(): string[] {
    return this.bucket ? [`${this.bucket} AS bucket`] : [];
  }

  metricSelects(): string[] {
    return this.spec.metrics.map((m, i) => `${metricSql(m, this.sumCost)} AS metric_${i}`);
  }

  addMetricOutputs(): void {
    for (const [i, m] of this.spec.metrics.entries()) {
      this.outputs.push({ alias: `metric_${i}`, json: m === "cost_usd" ? moneyText(`metric_${i}`) : `metric_${i}` });
      this.sortAlias.set(m, `metric_${i}`);
    }
  }
}

/** One row per group (and bucket). */
function plainRelation(r: RollupParts): string {
  const select = [...r.groupSelects, ...r.bucketSelect(), ...r.metricSelects()];
  const groupBy = r.keys.length > 0 ? `GROUP BY ${r.keys.join(", ")}` : "";
  return `SELECT ${select.join(", ")} FROM events WHERE ${r.where} ${groupBy}`;
}

/** The top `limit` groups by the order metric over the whole range; the rest fold into one "(other)" group. */
function otherRelation(r: RollupParts, limit: number): string {
  const { spec, groupNames } = r;
  const rankKey = spec.order_by[0]?.key ?? spec.metrics[0] ?? "requests";
  const rankDesc = spec.order_by[0]?.desc ?? true;
  const groupIndex = spec.group_by.indexOf(rankKey as never);
  const rankMetric = (spec.metrics as readonly string[]).includes(rankKey) ? rankKey : "requests";
  const rankBy = groupIndex >= 0 ? `group_${groupIndex}` : "rank_value";
  const other = r.p.bind(OTHER_GROUP);
  const base = `SELECT *, ${[...r.groupSelects, ...r.bucketSelect()].join(", ")} FROM events WHERE ${r.where}`;
  const ranked = `SELECT ${groupNames.join(", ")}, row_number() OVER (ORDER BY ${rankBy} ${rankDesc ? "DESC" : "ASC"} NULLS LAST, ${groupNames.map((g) => `${g} ASC NULLS LAST`).join(", ")}) AS rank
    FROM (SELECT ${groupNames.join(", ")}, ${metricSql(rankMetric, r.sumCost)} AS rank_value FROM base GROUP BY ALL)`;
  const folded = `SELECT ${groupNames.map((g) => `CASE WHEN k.rank <= ${limit} THEN b.${g} ELSE ${other} END AS ${g}`).join(", ")},
      k.rank <= ${limit} AS kept, b.* EXCLUDE (${groupNames.join(", ")})
    FROM base b JOIN ranked k ON ${groupNames.map((g) => `b.${g} IS NOT DISTINCT FROM k.${g}`).join(" AND ")}`;
  return `WITH base AS (${base}), ranked AS (${ranked}), folded AS (${folded})
    SELECT ${[...r.keys, ...r.metricSelects()].join(", ")}, bool_or(kept) AS kept FROM folded GROUP BY ${r.keys.join(", ")}`;
}

/** A metric summed per `per` value (each agent run), then summarised per group in one sort. */
function distributionRelation(r: RollupParts, d: NonNullable<QuerySpec["distribution"]>): string {
  const { spec, keys } = r;
  const narrow = d.metric === "cost_usd" && r.options.narrowRunCost;
  const runSum = additiveSumSql(d.metric, r.sumCost);
  const perRun = `SELECT ${[
    ...r.groupSelects,
    ...r.bucketSelect(),
    `${dimensionSql(d.per, r.p)} AS per_key`,
    `${narrow ? `TRY_CAST(${runSum} AS DECIMAL(18,12))` : runSum} AS run_value`,
    ...(narrow ? [`${runSum} IS NOT NULL AS run_priced`] : []),
    ...spec.metrics.map((m, i) => `${additiveSumSql(m, r.sumCost)} AS run_metric_${i}`),
  ].join(", ")}
    FROM events WHERE ${r.where} AND ${dimensionSql(d.per, r.p)} IS NOT NULL GROUP BY ALL`;
  const fractions = d.stats.filter((s) => QUANTILES[s] !== undefined).map((s) => QUANTILES[s] as number);
  const perGroup = [
    ...keys,
    ...(fractions.length > 0 ? [`quantile_disc(run_value, [${fractions.join(", ")}]) AS quantiles`] : []),
    ...(narrow ? ["count(*) FILTER (WHERE run_value IS NULL AND run_priced) AS overflow"] : []),
    ...spec.metrics.map((_, i) => `sum(run_metric_${i}) AS metric_${i}`),
    ...d.stats.flatMap((s, i) => (QUANTILES[s] === undefined ? [`${STAT_SQL[s]?.("run_value")} AS stat_${i}`] : [])),
  ];
  const stats = d.stats.map((s, i) =>
    QUANTILES[s] === undefined ? `stat_${i}` : `quantiles[${fractions.indexOf(QUANTILES[s] as number) + 1}] AS stat_${i}`,
  );
  if (narrow) r.outputs.push({ alias: "overflow", json: "overflow" });
  for (const [i, s] of d.stats.entries()) {
    const money = d.metric === "cost_usd" && s !== "count" && s !== "mean";
    r.outputs.push({ alias: `stat_${i}`, json: money ? moneyText(`stat_${i}`) : `stat_${i}` });
    r.sortAlias.set(`${d.metric}_${s}`, `stat_${i}`);
  }
  const groupBy = keys.length > 0 ? `GROUP BY ${keys.join(", ")}` : "";
  return `SELECT ${[...keys, ...stats, ...(narrow ? ["overflow"] : []), ...spec.metrics.map((_, i) => `metric_${i}`)].join(", ")}
    FROM (SELECT ${perGroup.join(", ")} FROM (${perRun}) ${groupBy})`;
}

/** The order asked for, then a default, then the group columns so pages and tests are deterministic. */
function orderSql(r: RollupParts): string[] {
  const { spec } = r;
  const order = spec.order_by.map((o) => `${r.sortAlias.get(o.key) ?? "1"} ${o.desc ? "DESC" : "ASC"} NULLS LAST`);
  if (order.length === 0) {
    if (r.bucket) order.push("bucket ASC");
    const first = spec.distribution ? `${spec.distribution.metric}_${spec.distribution.stats[0]}` : spec.metrics[0];
    const alias = first ? r.sortAlias.get(first) : undefined;
    if (alias) order.push(`${alias} DESC NULLS LAST`);
  }
  for (const g of r.groupNames) order.push(`${g} ASC NULLS LAST`);
  // Kept groups before "(other)".
  if (spec.other && spec.limit !== null && !spec.distribution) order.unshift("kept DESC");
  return order;
}

/**
 * A rollup as one statement that answers a single JSON text (column `j`): the rows, already
 * ordered and limited. DuckDB builds the JSON natively, several times faster than reading a
 * wide result value by value.
 */
export function rollupStatement(spec: QuerySpec, scope: ReadScope, options: RollupOptions): Statement {
  const r = new RollupParts(spec, scope, options);
  const folding = spec.other && spec.limit !== null && !spec.distribution;
  const relation = spec.distribution
    ? distributionRelation(r, spec.distribution)
    : folding
      ? otherRelation(r, spec.limit as number)
      : plainRelation(r);
  r.addMetricOutputs();
  const order = orderSql(r).join(", ");
  const limit = spec.limit !== null && !folding ? ` LIMIT ${spec.limit}` : "";
  const rows = `SELECT * FROM (${relation}) ORDER BY ${order}${limit}`;
  const json = `json_object(${r.outputs.map((o) => `'${o.alias}', ${o.json}`).join(", ")})`;
  const sql = `SELECT '[' || coalesce(string_agg(CAST(${json} AS VARCHAR), ',' ORDER BY ${order}), '') || ']' AS j FROM (${rows})`;
  return { sql, params: r.p.values };
}

/** Whether any event in a rollup's range carries a cost residual (rare; the column is nearly all NULL, so this is cheap). */
function residualProbe(spec: QuerySpec, scope: ReadScope): Statement {
  const p = new Params();
  const where = whereSql(scope, spec.from, spec.to, spec.filters, p);
  return { sql: `SELECT EXISTS (SELECT 1 FROM events WHERE cost_residual IS NOT NULL AND ${where}) AS r`, params: p.values };
}

function usesCost(spec: QuerySpec): boolean {
  return spec.metrics.some((m) => m === "cost_usd" || m === "cost_per_request_usd") || spec.distribution?.metric === "cost_usd";
}

function toRollupRow(spec: QuerySpec, raw: Record<string, PlainValue>): RollupRow {
  return {
    groups: spec.group_by.map((_, i) => {
      const v = raw[`group_${i}`];
      return v === null || v === undefined ? null : String(v);
    }),
    bucketLocalMs: spec.grain ? Number(raw.bucket) : null,
    metrics: spec.metrics.map((_, i) => raw[`metric_${i}`] ?? null),
    stats: (spec.distribution?.stats ?? []).map((_, i) => raw[`stat_${i}`] ?? null),
  };
}

async function rollup(spec: QuerySpec, scope: ReadScope, run: RunStatement): Promise<RollupRow[]> {
  const residuals = usesCost(spec) && (await run(residualProbe(spec, scope)))[0]?.r === true;
  const answer = async (narrowRunCost: boolean) => {
    const [first] = await run(rollupStatement(spec, scope, { residuals, narrowRunCost }));
    return JSON.parse(String(first?.j ?? "[]")) as Array<Record<string, PlainValue>>;
  };
  let raw = await answer(spec.distribution?.metric === "cost_usd");
  // A run of a million dollars or more does not fit the narrow sum: answer again, 128-bit.
  if (raw.some((row) => Number(row.overflow ?? 0) > 0)) raw = await answer(false);
  return raw.map((row) => toRollupRow(spec, row));
}

// ── Event pages and exports ────────────────────────────────────────────────────────────────

function eventPage(req: EventListRequest, cursor: EventCursor | null, scope: ReadScope): Statement {
  const p = new Params();
  let where = whereSql(scope, req.from, req.to, req.filters, p);
  if (cursor) {
    const t = epochMs(p, cursor.ts_ms);
    where += ` AND (ts < ${t} OR (ts = ${t} AND id < ${p.bind(cursor.id)}))`;
  }
  const cols = EVENT_LIST_COLUMNS.filter((c) => c !== "ts").map((c) => (c === "cost_usd" ? `${EXACT_COST} AS cost_usd` : `"${c}"`));
  return {
    sql: `SELECT ${cols.join(", ")}, epoch_ms(ts) AS ts_ms FROM events WHERE ${where} ORDER BY ts DESC, id DESC LIMIT ${req.limit + 1}`,
    params: p.values,
  };
}

/**
 * A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
 * as a formula; in CSV such text cells get a leading apostrophe so they stay text.
 */
function csvSafe(expr: string): string {
  return `CASE WHEN regexp_matches(${expr}, '^[=+\\-@\\t\\r]') THEN '''' || ${expr} ELSE ${expr} END`;
}

/** Columns that hold numbers or flags: no formula can hide in them. */
const NOT_TEXT = new Set<string>([
  ...TOKEN_BUCKETS,
  "web_search_calls",
  "batch",
  "attempt",
  "latency_ms",
  "ttft_ms",
  "streamed",
  "cache_hit",
]);

function exportColumn(c: string, format: ExportFormat): string {
  if (c === "ts")
    return format === "parquet" ? `CAST(ts AS TIMESTAMPTZ) AS "timestamp"` : `strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS "timestamp"`;
  const value = c === "cost_usd" ? EXACT_COST : `"${c}"`;
  // Parquet keeps DECIMAL; text formats carry money as exact decimal strings.
  if (format === "parquet") return `${value} AS "${c}"`;
  if (c === "cost_usd" || c === "computed_cost_usd") return `rtrim(rtrim(CAST(${value} AS VARCHAR), '0'), '.') AS "${c}"`;
  if (c === "tags") return "to_json(tags) AS tags";
  if (c === "units" || c === "raw_usage") return format === "ndjson" ? `CAST("${c}" AS JSON) AS "${c}"` : `"${c}"`;
  if (format === "csv" && !NOT_TEXT.has(c)) return `${csvSafe(value)} AS "${c}"`;
  return value;
}

function exportRows(req: Omit<EventListRequest, "limit">, format: ExportFormat, scope: ReadScope): Statement {
  const p = new Params();
  const where = whereSql(scope, req.from, req.to, req.filters, p);
  const cols = EVENT_LIST_COLUMNS.map((c) => exportColumn(c, format));
  return { sql: `SELECT ${cols.join(", ")} FROM events WHERE ${where} ORDER BY ts, id`, params: p.values };
}

/** COPY of an export statement to a file; the path is quoted, since COPY takes no parameter for it. */
export function copySql(select: string, path: string, format: ExportFormat): string {
  const options = format === "parquet" ? "FORMAT parquet, COMPRESSION zstd" : format === "csv" ? "FORMAT csv, HEADER true" : "FORMAT json";
  return `COPY (${select}) TO '${path.replace(/'/g, "''")}' (${options})`;
}

function count(scope: ReadScope): Statement {
  const p = new Params();
  return { sql: `SELECT count(*) AS n FROM events WHERE ${whereSql(scope, 0, 8.64e15, [], p)}`, params: p.values };
}

// ── The writer's lookups (run on its own connection, with positional values) ───────────────

/** Events under some ids within a time range: $1, $2 epoch ms bounds, $3 the ids. */
export const existingEventsSql = `SELECT id, project, epoch_ms(ts) AS ms, content_hash FROM events
  WHERE ts >= epoch_ms(CAST($1 AS BIGINT)) AND ts <= epoch_ms(CAST($2 AS BIGINT)) AND id IN (SELECT unnest($3))`;

/** The newest events received since $1 (epoch ms), at most $2 of them. */
export const recentIdentitiesSql = `SELECT id, project, epoch_ms(ts) AS ms, epoch_ms(received_at) AS received FROM events
  WHERE received_at >= epoch_ms(CAST($1 AS BIGINT)) ORDER BY received_at DESC LIMIT $2`;

/** The latest event time among events received before $1 (epoch ms). */
export const latestBeforeSql = "SELECT epoch_ms(max(ts)) FROM events WHERE received_at < epoch_ms(CAST($1 AS BIGINT))";

// ── API keys ───────────────────────────────────────────────────────────────────────────────

function insertApiKey(key: StoredApiKey): Statement {
  const p = new Params();
  // Lists travel as JSON text: a project name may contain any character, commas included.
  const list = (xs: readonly string[]) => `from_json(${p.bind(JSON.stringify(xs))}, '["VARCHAR"]')`;
  const projects = key.projects === null ? "NULL" : list(key.projects);
  const sql = `INSERT INTO api_keys (id, name, hash, scopes, projects, created_at, revoked_at)
    VALUES (${p.bind(key.id)}, ${p.bind(key.name)}, ${p.bind(key.hash)}, ${list(key.scopes)}, ${projects},
      ${epochMs(p, key.created_ms)}, ${key.revoked_ms === null ? "NULL" : epochMs(p, key.revoked_ms)})`;
  return { sql, params: p.values };
}

function listApiKeys(): Statement {
  return {
    sql: `SELECT k.id, k.name, k.hash, CAST(to_json(k.scopes) AS VARCHAR) AS scopes, CAST(to_json(k.projects) AS VARCHAR) AS projects,
      epoch_ms(k.created_at) AS created_ms, epoch_ms(k.revoked_at) AS revoked_ms, epoch_ms(u.last_used_at) AS last_used_ms
      FROM api_keys k LEFT JOIN api_key_usage u ON u.id = k.id ORDER BY k.created_at, k.id`,
    params: [],
  };
}

function revokeApiKey(id: string, revokedMs: number): Statement {
  const p = new Params();
  const at = epochMs(p, revokedMs);
  // Revoking again never extends a key's life.
  return {
    sql: `UPDATE api_keys SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > ${at} THEN ${at} ELSE revoked_at END WHERE id = ${p.bind(id)}`,
    params: p.values,
  };
}

function keyUsage(): Statement {
  return { sql: "SELECT id, epoch_ms(last_used_at) AS last_used_ms FROM api_key_usage", params: [] };
}

/** Last-used times for keys of every source (config and bootstrap keys have no api_keys row). */
function touchApiKeys(lastUsed: ReadonlyMap<string, number>): Statement {
  const p = new Params();
  const rows = [...lastUsed].map(([id, ms]) => `(${p.bind(id)}, ${epochMs(p, ms)})`);
  return {
    sql: `INSERT INTO api_key_usage (id, last_used_at) VALUES ${rows.join(", ")}
      ON CONFLICT (id) DO UPDATE SET last_used_at = greatest(api_key_usage.last_used_at, excluded.last_used_at)`,
    params: p.values,
  };
}

export const duckdbDialect: LedgerDialect = {
  rollup,
  eventPage,
  exportRows,
  count,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKeys,
  keyUsage,
};
