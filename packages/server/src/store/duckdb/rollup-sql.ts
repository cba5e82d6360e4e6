import { ADDITIVE_METRICS, type Dimension, MONEY_METRICS, OTHER_GROUP, type QuerySpec, TOKEN_BUCKETS } from "@costtrail/core";
import type { PlainValue, RollupRow, RunStatement, Statement } from "../ledger-driver.js";
import type { ReadScope } from "../ledger-store.js";
import { offsetSegments } from "@costtrail/core";
import { SUM_COST } from "./schema.js";
import {
  eventPartSums,
  HOURLY_BUILT_KEY,
  HOURLY_COLUMNS,
  HOURLY_DROPPED_PREFIX,
  RUN_COLUMNS,
  RUN_DIMENSION,
  RUN_HOURS_BUILT_KEY,
  hourlyPartSums,
  partsOf,
  hourlyDimensionSql,
} from "./hourly.js";
import { ANY_CURRENT_SQL, currentEventsSql } from "./reprice-sql.js";
import { Params, dimensionSql, epochMs, filterSql, scopeSql, whereSql } from "./sql-parts.js";

/**
 * Rollups in DuckDB's SQL: core's query model (metrics × dimensions × filters × grain, and
 * distributions per agent run) compiled from small named pieces, read top to bottom.
 */

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
      // NULL, not NaN, over no events (a total over an empty range).
      return "CAST(count(*) FILTER (WHERE status = 'error') AS DOUBLE) / nullif(count(*), 0)";
    case "unique_users":
      return "count(DISTINCT user_id)";
    case "unique_agent_runs":
      return "count(DISTINCT agent_run_id)";
    case "provider_cost_usd":
      return "sum(cost_usd + coalesce(cost_residual, 0)) FILTER (WHERE cost_source = 'provider')";
    case "provider_cost_difference_usd":
      return "sum(cost_usd + coalesce(cost_residual, 0) - computed_cost_usd) FILTER (WHERE cost_source = 'provider' AND computed_cost_usd IS NOT NULL)";
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

/** Metrics that a sum of hourly parts (hourly.ts) answers exactly. */
const PART_METRICS = new Set<string>([...ADDITIVE_METRICS, "cost_per_request_usd", "error_rate"]);

/**
 * A group's aggregate for a metric over parts: rows that each already sum some events. Parts
 * are named as the event columns they sum, so `sumCost` reads them as it reads events.
 */
function partMetricSql(m: string, sumCost: string): string {
  const count = (c: string) => `CAST(coalesce(sum("${c}"), 0) AS BIGINT)`;
  switch (m) {
    case "cost_usd":
      return sumCost;
    case "requests":
    case "errors":
    case "unpriced_requests":
      return count(m);
    case "total_tokens":
      return `coalesce(sum(${TOKEN_BUCKETS.map((b) => `"${b}"`).join(" + ")}), 0)`;
    case "cost_per_request_usd":
      return `CAST(${sumCost} AS VARCHAR) || '/' || CAST(${count("requests")} AS VARCHAR)`;
    case "error_rate":
      return `CAST(${count("errors")} AS DOUBLE) / nullif(${count("requests")}, 0)`;
    default:
      return `coalesce(sum("${m}"), 0)`;
  }
}

/** A run's sum of an additive metric over parts, as additiveSumSql gives it over events. */
function partRunSumSql(m: string, sumCost: string): string {
  if (m === "cost_usd") return sumCost;
  if (m === "total_tokens") return `sum(${TOKEN_BUCKETS.map((b) => `"${b}"`).join(" + ")})`;
  return `sum("${m}")`;
}

/** The same for a run whose one row holds all of it: the row's parts as they are. */
function partRunValueSql(m: string, rowCost: string): string {
  if (m === "cost_usd") return rowCost;
  if (m === "total_tokens") return `(${TOKEN_BUCKETS.map((b) => `"${b}"`).join(" + ")})`;
  return `"${m}"`;
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
function localTimeSql(spec: QuerySpec, p: Params, ts = "ts"): string {
  const segments = offsetSegments(spec.time_zone, spec.from, spec.to);
  if (segments.length === 1) {
    const only = segments[0]?.offsetMin ?? 0;
    return only === 0 ? ts : `${ts} + to_minutes(CAST(${p.bind(only)} AS BIGINT))`;
  }
  const cases = segments
    .slice(0, -1)
    .map((s) => `WHEN ${ts} < ${epochMs(p, s.untilMs)} THEN ${p.bind(s.offsetMin)}`)
    .join(" ");
  return `${ts} + to_minutes(CAST(CASE ${cases} ELSE ${p.bind(segments.at(-1)?.offsetMin ?? 0)} END AS BIGINT))`;
}

/** A bucket starts up to one grain before the range does. */
const GRAIN_MS: Record<string, number> = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 32 * 86_400_000 };

/** The zone's offsets from the start of the first bucket to the end of the range. */
function bucketOffsets(spec: QuerySpec) {
  return offsetSegments(spec.time_zone, spec.from - (GRAIN_MS[spec.grain ?? "hour"] ?? 0) - 86_400_000, spec.to);
}

/**
 * A bucket as the API shows it ("2026-11-20T00:00:00+01:00"), when one offset holds over the
 * whole range; null otherwise (a range across a transition is shaped above the driver).
 */
function bucketIsoSql(spec: QuerySpec): string | null {
  const segments = bucketOffsets(spec);
  if (segments.length !== 1) return null;
  const offset = segments[0]?.offsetMin ?? 0;
  const a = Math.abs(offset);
  const suffix =
    offset === 0 ? "Z" : `${offset > 0 ? "+" : "-"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  return `strftime(bucket, '%Y-%m-%dT%H:%M:%S${suffix}')`;
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
  /** Whole hours read from the hourly table instead of the events, or null to read only events. */
  readonly hourly: HourlyPlan | null;
  /** Rows leave as the API shows them (apiShaped), instead of by alias for rows.ts to shape. */
  readonly api: boolean;
  /** Read each event's newest completed re-pricing over its recorded price (`"pricing": "current"`). */
  readonly current?: boolean;
}

const HOUR_MS = 3_600_000;

/** A rollup read from hourly sums (hourly.ts) for its whole hours of compacted events. */
export interface HourlyPlan {
  /**
   * `hourly` (sums per dimension value), `run_hours` (sums per agent run, for distributions), or
   * `events`: no table, only the events summed into parts per group (see eventPartsPlan).
   */
  readonly table: "hourly" | "run_hours" | "events";
  /** The one dimension other than project that an `hourly` rollup groups or filters by; null for none. */
  readonly dim: Dimension | null;
  /** Whole UTC hours [fromMs, toMs) taken from the hourly table. */
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Whether hourly sums can answer a rollup, and for which hours: additive metrics only, no
 * distribution, at most one dimension besides project among its groups and filters (the
 * table holds each dimension's sums apart), and a time zone whose offsets and transitions are
 * whole hours when it has a grain (so that an hour falls in one local bucket).
 */
export function hourlyPlan(spec: QuerySpec): HourlyPlan | null {
  if (!spec.metrics.every((m) => PART_METRICS.has(m))) return null;
  const fromMs = Math.ceil(spec.from / HOUR_MS) * HOUR_MS;
  const toMs = Math.floor(spec.to / HOUR_MS) * HOUR_MS;
  if (toMs <= fromMs) return null;
  const wholeHours = (s: { offsetMin: number; untilMs: number }) =>
    s.offsetMin % 60 === 0 && (!Number.isFinite(s.untilMs) || s.untilMs % HOUR_MS === 0);
  if (spec.grain && !offsetSegments(spec.time_zone, spec.from, spec.to).every(wholeHours)) return null;
  if (spec.distribution) {
    // Per agent run, grouped and filtered by what a run's rows carry.
    const keys = new Set<string>(["project", ...RUN_COLUMNS]);
    if (spec.distribution.per !== RUN_DIMENSION || !spec.group_by.every((d) => keys.has(d))) return null;
    if (!spec.filters.every((f) => keys.has(f.column) || f.column === RUN_DIMENSION)) return null;
    return { table: "run_hours", dim: null, fromMs, toMs };
  }
  const dims = new Set<Dimension>([...spec.group_by, ...spec.filters.map((f) => f.column)]);
  dims.delete("project");
  if (dims.size > 1) return null;
  const [dim = null] = dims;
  if (dim !== null && !dim.startsWith("tag.") && !HOURLY_COLUMNS.includes(dim)) return null;
  return { table: "hourly", dim, fromMs, toMs };
}

/**
 * A rollup that folds its smaller groups into "(other)" ranks the groups and then sums again by
 * kept or folded: over every event, that is a second pass and a join of every event to its
 * group's rank (3 to 4 times the plain rollup). With metrics that sums of parts answer, the
 * events are summed once per group (and bucket) into parts, and the ranking and folding work
 * on those few rows instead.
 */
export function eventPartsPlan(spec: QuerySpec): HourlyPlan | null {
  if (!spec.other || spec.limit === null || spec.distribution) return null;
  if (!spec.metrics.every((m) => PART_METRICS.has(m))) return null;
  return { table: "events", dim: null, fromMs: 0, toMs: 0 };
}

/** The pieces every rollup shape shares: where, group columns, bucket, and what leaves the statement. */
class RollupParts {
  readonly p = new Params();
  readonly sumCost: string;
  /** `sumCost` of one row of parts. */
  readonly rowCost: string;
  readonly where: string;
  /** `expr AS group_i` for each group_by dimension. */
  readonly groupSelects: string[];
  readonly groupNames: string[];
  /** The bucket expression, or null without a grain. */
  readonly bucket: string | null;
  /** What the outer statement groups by. */
  readonly keys: string[];
  /**
   * Output columns: alias → how its value leaves the statement as JSON, and under which key
   * and in which form the API shows it (null: only the layer above can, e.g. an exact ratio).
   */
  readonly outputs: Array<{ readonly alias: string; readonly json: string; readonly key: string | null; readonly api: string | null }> = [];
  /** API sort key (dimension, `bucket`, metric, `<metric>_<stat>`) → alias. */
  readonly sortAlias = new Map<string, string>();

  /** The relation events are read from: as recorded, or as the newest price versions have them. */
  readonly events: string;

  constructor(
    readonly spec: QuerySpec,
    readonly scope: ReadScope,
    readonly options: RollupOptions,
  ) {
    this.events = options.current ? currentEventsSql(this.p, spec.from, spec.to) : "events";
    this.sumCost = options.residuals ? SUM_COST : "sum(cost_usd)";
    this.rowCost = options.residuals ? `("cost_usd" + coalesce("cost_residual", 0))` : `"cost_usd"`;
    this.where = whereSql(scope, spec.from, spec.to, spec.filters, this.p);
    this.groupNames = spec.group_by.map((_, i) => `group_${i}`);
    this.groupSelects = spec.group_by.map((d, i) => `${dimensionSql(d, this.p)} AS group_${i}`);
    this.bucket = spec.grain ? `date_trunc('${spec.grain}', ${localTimeSql(spec, this.p)})` : null;
    this.keys = [...this.groupNames, ...(this.bucket ? ["bucket"] : [])];
    for (const [i, d] of spec.group_by.entries()) {
      this.outputs.push({ alias: `group_${i}`, json: `group_${i}`, key: d, api: `group_${i}` });
      this.sortAlias.set(d, `group_${i}`);
    }
    if (this.bucket) {
      this.outputs.push({ alias: "bucket", json: "epoch_ms(bucket)", key: "bucket", api: bucketIsoSql(spec) });
      this.sortAlias.set("bucket", "bucket");
    }
  }

  bucketSelect(): string[] {
    return this.bucket ? [`${this.bucket} AS bucket`] : [];
  }

  /** A metric's aggregate over the base rows: events, or parts when the hourly table is read. */
  metric(m: string): string {
    return this.options.hourly ? partMetricSql(m, this.sumCost) : metricSql(m, this.sumCost);
  }

  metricSelects(): string[] {
    return this.spec.metrics.map((m, i) => `${this.metric(m)} AS metric_${i}`);
  }

  /** Rows carrying `group_i`, `bucket` and what the metrics read: the events in range, or parts. */
  base(): string {
    if (this.options.hourly) return partsRelation(this, this.options.hourly);
    return `SELECT *, ${[...this.groupSelects, ...this.bucketSelect()].join(", ")} FROM ${this.events} WHERE ${this.where}`;
  }

  addMetricOutputs(): void {
    for (const [i, m] of this.spec.metrics.entries()) {
      const json = MONEY_METRICS.has(m) ? moneyText(`metric_${i}`) : `metric_${i}`;
      this.outputs.push({ alias: `metric_${i}`, json, key: m, api: m === "cost_per_request_usd" ? null : json });
      this.sortAlias.set(m, `metric_${i}`);
    }
  }
}

/**
 * The rollup's events as parts, each a sum over some of them: whole hours of compacted events
 * from the hourly table, the partial hours at either end from the main file's events, and
 * every live segment's events (not in the hourly table until compacted). `main_events` and
 * `live_events` split `events` in the same snapshot (segments.ts).
 */
function partsRelation(r: RollupParts, h: HourlyPlan): string {
  const { spec } = r;
  if (h.table === "events") {
    const parts = new Set(spec.metrics.flatMap((m) => partsOf(m)));
    return `SELECT ${[...r.groupSelects, ...r.bucketSelect(), eventPartSums(parts)].join(", ")} FROM ${r.events} WHERE ${r.where} GROUP BY ALL`;
  }
  const { table, events } = partPieces(r, h);
  return `${table} UNION ALL BY NAME ${events}`;
}

/**
 * The two sides of `partsRelation`: the table's rows for the range's whole hours, and the
 * events it does not hold yet (the partial hours at either end, every live segment), summed
 * the same way. A run's rows also carry `whole` (hourly.ts).
 */
function partPieces(r: RollupParts, h: HourlyPlan): { table: string; events: string } {
  const { spec, p } = r;
  const runs = h.table === "run_hours";
  const where = [scopeSql(r.scope, p) ?? "TRUE", `hour >= ${epochMs(p, h.fromMs)}`, `hour < ${epochMs(p, h.toMs)}`];
  // A run's rows hold their columns; a dimension's rows hold its value in `value`.
  for (const f of spec.filters) where.push(filterSql(f, p, f.column === "project" || runs ? undefined : "value"));
  const hourKeys = [
    ...spec.group_by.map((d, i) => `${d === "project" || runs ? `"${d}"` : "value"} AS group_${i}`),
    ...(r.bucket ? [`date_trunc('${spec.grain}', ${localTimeSql(spec, p, "hour")}) AS bucket`] : []),
    ...(runs ? [`${RUN_DIMENSION} AS per_key`] : []),
  ];
  const per = spec.distribution ? dimensionSql(spec.distribution.per, p) : null;
  const eventKeys = [...r.groupSelects, ...r.bucketSelect(), ...(per ? [`${per} AS per_key`] : [])];
  const parts = new Set([...spec.metrics, ...(spec.distribution ? [spec.distribution.metric] : [])].flatMap((m) => partsOf(m)));
  const fromEvents = (table: string, extra: string) =>
    `SELECT ${[...eventKeys, eventPartSums(parts)].join(", ")} FROM ${table} WHERE ${r.where}${per ? ` AND ${per} IS NOT NULL` : ""}${extra} GROUP BY ALL`;
  return {
    table: runs
      ? // A run's rows are about one per run already: summed once, per run, by the distribution.
        `SELECT ${[...hourKeys, ...[...parts].map((n) => `"${n}"`), "whole"].join(", ")} FROM run_hours WHERE ${where.join(" AND ")}`
      : `SELECT ${[...hourKeys, hourlyPartSums(parts)].join(", ")} FROM (${hourlyDimensionSql(h.dim === null ? null : p.bind(h.dim), h.dim?.startsWith("tag.") ?? false)}) WHERE ${where.join(" AND ")} GROUP BY ALL`,
    events: [
      fromEvents("main_events", ` AND (ts < ${epochMs(p, h.fromMs)} OR ts >= ${epochMs(p, h.toMs)})`),
      fromEvents("live_events", ""),
    ].join(" UNION ALL BY NAME "),
  };
}

/** One row per group (and bucket). */
function plainRelation(r: RollupParts): string {
  if (r.options.hourly) {
    const groupBy = r.keys.length > 0 ? `GROUP BY ${r.keys.join(", ")}` : "";
    return `SELECT ${[...r.keys, ...r.metricSelects()].join(", ")} FROM (${r.base()}) ${groupBy}`;
  }
  const select = [...r.groupSelects, ...r.bucketSelect(), ...r.metricSelects()];
  const groupBy = r.keys.length > 0 ? `GROUP BY ${r.keys.join(", ")}` : "";
  return `SELECT ${select.join(", ")} FROM ${r.events} WHERE ${r.where} ${groupBy}`;
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
  const kept = `k.rank <= ${r.p.bind(limit)}`;
  const base = r.base();
  const ranked = `SELECT ${groupNames.join(", ")}, row_number() OVER (ORDER BY ${rankBy} ${rankDesc ? "DESC" : "ASC"} NULLS LAST, ${groupNames.map((g) => `${g} ASC NULLS LAST`).join(", ")}) AS rank
    FROM (SELECT ${groupNames.join(", ")}, ${r.metric(rankMetric)} AS rank_value FROM base GROUP BY ALL)`;
  const folded = `SELECT ${groupNames.map((g) => `CASE WHEN ${kept} THEN b.${g} ELSE ${other} END AS ${g}`).join(", ")},
      ${kept} AS kept, b.* EXCLUDE (${groupNames.join(", ")})
    FROM base b JOIN ranked k ON ${groupNames.map((g) => `b.${g} IS NOT DISTINCT FROM k.${g}`).join(" AND ")}`;
  return `WITH base AS (${base}), ranked AS (${ranked}), folded AS (${folded})
    SELECT ${[...r.keys, ...r.metricSelects()].join(", ")}, bool_or(kept) AS kept FROM folded GROUP BY ${r.keys.join(", ")}`;
}

/** A metric summed per `per` value (each agent run), then summarised per group in one sort. */
function distributionRelation(r: RollupParts, d: NonNullable<QuerySpec["distribution"]>): string {
  const { spec, keys } = r;
  const narrow = d.metric === "cost_usd" && r.options.narrowRunCost;
  // Over parts, an additive metric is the sum of its parts (partMetricSql without its zero default).
  const sumOf = (m: string) => (r.options.hourly ? partRunSumSql(m, r.sumCost) : additiveSumSql(m, r.sumCost));
  const runValues = (of: (m: string) => string) => {
    const runSum = of(d.metric);
    return [
      `${narrow ? `TRY_CAST(${runSum} AS DECIMAL(18,12))` : runSum} AS run_value`,
      ...(narrow ? [`${runSum} IS NOT NULL AS run_priced`] : []),
      ...spec.metrics.map((m, i) => `${of(m)} AS run_metric_${i}`),
    ];
  };
  const values = runValues(sumOf);
  const h = r.options.hourly;
  const perRun =
    h?.table === "run_hours"
      ? runHoursPerRun(
          r,
          h,
          values,
          runValues((m) => partRunValueSql(m, r.rowCost)),
        )
      : h
        ? `SELECT ${[...r.groupNames, ...(r.bucket ? ["bucket"] : []), "per_key", ...values].join(", ")} FROM (${r.base()}) GROUP BY ALL`
        : `SELECT ${[...r.groupSelects, ...r.bucketSelect(), `${dimensionSql(d.per, r.p)} AS per_key`, ...values].join(", ")}
    FROM ${r.events} WHERE ${r.where} AND ${dimensionSql(d.per, r.p)} IS NOT NULL GROUP BY ALL`;
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
  if (narrow) r.outputs.push({ alias: "overflow", json: "overflow", key: null, api: null });
  for (const [i, s] of d.stats.entries()) {
    const money = d.metric === "cost_usd" && s !== "count" && s !== "mean";
    const json = money ? moneyText(`stat_${i}`) : `stat_${i}`;
    r.outputs.push({ alias: `stat_${i}`, json, key: `${d.metric}_${s}`, api: s === "mean" ? null : json });
    r.sortAlias.set(`${d.metric}_${s}`, `stat_${i}`);
  }
  const groupBy = keys.length > 0 ? `GROUP BY ${keys.join(", ")}` : "";
  return `SELECT ${[...keys, ...stats, ...(narrow ? ["overflow"] : []), ...spec.metrics.map((_, i) => `metric_${i}`)].join(", ")}
    FROM (SELECT ${perGroup.join(", ")} FROM (${perRun}) ${groupBy})`;
}

/**
 * One row per run from `run_hours`: a run with one row there and no events outside it is that
 * row (`single`); only the others are summed per run (`values`), which spares grouping a row
 * per run (hourly.ts, `whole`).
 */
function runHoursPerRun(r: RollupParts, h: HourlyPlan, values: readonly string[], single: readonly string[]): string {
  const { table, events } = partPieces(r, h);
  const keys = [...r.groupNames, ...(r.bucket ? ["bucket"] : []), "per_key"];
  return `WITH ev AS MATERIALIZED (${events}), runs AS NOT MATERIALIZED (${table})
    SELECT ${[...keys, ...single].join(", ")} FROM runs WHERE whole IS TRUE AND per_key NOT IN (SELECT per_key FROM ev)
    UNION ALL BY NAME
    SELECT ${[...keys, ...values].join(", ")} FROM (SELECT * EXCLUDE (whole) FROM runs WHERE whole IS NOT TRUE OR per_key IN (SELECT per_key FROM ev)
      UNION ALL BY NAME SELECT * FROM ev) GROUP BY ALL`;
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
  // Ties on the asked order break on the bucket too, so equal rows always come in one order.
  if (r.bucket && !order.some((o) => o.startsWith("bucket "))) order.push("bucket ASC");
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
  const limit = spec.limit !== null && !folding ? ` LIMIT ${r.p.bind(spec.limit)}` : "";
  // string_agg orders the rows itself: the relation is sorted first only to be cut to its limit.
  const rows = limit ? `SELECT * FROM (${relation}) ORDER BY ${order}${limit}` : relation;
  const json = options.api
    ? `json_object(${r.outputs.flatMap((o) => (o.key === null ? [] : [`${r.p.bind(o.key)}, ${o.api}`])).join(", ")})`
    : `json_object(${r.outputs.map((o) => `'${o.alias}', ${o.json}`).join(", ")})`;
  const overflow = options.api && r.outputs.some((o) => o.alias === "overflow") ? ", coalesce(max(overflow), 0) AS overflow" : "";
  // Read in the same snapshot as the answer: whether the hourly table could not be trusted
  // for this rollup (not built yet, or its dimension dropped), so that it is answered again from events.
  const h = options.hourly?.table === "events" ? null : options.hourly;
  const built = h?.table === "run_hours" ? RUN_HOURS_BUILT_KEY : HOURLY_BUILT_KEY;
  const dropped = `${HOURLY_DROPPED_PREFIX}${h?.table === "run_hours" ? RUN_DIMENSION : (h?.dim ?? "")}`;
  const stale = h
    ? `, NOT EXISTS (SELECT 1 FROM meta WHERE key = ${r.p.bind(built)}) OR EXISTS (SELECT 1 FROM meta WHERE key = ${r.p.bind(dropped)}) AS stale`
    : "";
  const sql = `SELECT '[' || coalesce(string_agg(CAST(${json} AS VARCHAR), ',' ORDER BY ${order}), '') || ']' AS j${stale}${overflow} FROM (${rows})`;
  return { sql, params: r.p.values };
}

/** Whether any event in a rollup's range carries a cost residual (rare; the column is nearly all NULL, so this is cheap). */
function residualProbe(spec: QuerySpec, scope: ReadScope, current: boolean): Statement {
  const p = new Params();
  const where = whereSql(scope, spec.from, spec.to, spec.filters, p);
  return {
    sql: `SELECT EXISTS (SELECT 1 FROM ${current ? currentEventsSql(p, spec.from, spec.to) : "events"} WHERE cost_residual IS NOT NULL AND ${where}) AS r`,
    params: p.values,
  };
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

/** How a rollup is answered: from the hourly table when it can, from events otherwise. */
export interface RollupRoute {
  /** Whether the hourly table may be read (tests compare both routes). */
  readonly useHourly: boolean;
  /** Rows in the API's shape (true) or by alias for the layer above to shape. */
  readonly api: boolean;
}

/** The JSON text of a rollup's rows: the hourly route when it applies and is current, else the events. */
async function answerText(spec: QuerySpec, scope: ReadScope, run: RunStatement, route: RollupRoute): Promise<string> {
  // Current pricing reads the price versions over the events; with no completed version it is the recorded pricing.
  const current = spec.pricing === "current" && (await run({ sql: ANY_CURRENT_SQL, params: [] }))[0]?.found === true;
  const answer = async (hourly: HourlyPlan | null, residuals: boolean) => {
    const once = async (narrowRunCost: boolean) =>
      (await run(rollupStatement(spec, scope, { residuals, narrowRunCost, hourly, api: route.api, current })))[0];
    let first = await once(spec.distribution?.metric === "cost_usd");
    // A run of a million dollars or more does not fit the narrow sum: answer again, 128-bit.
    const overflowed = route.api
      ? Number(first?.overflow ?? 0) > 0
      : (JSON.parse(String(first?.j ?? "[]")) as Array<Record<string, PlainValue>>).some((row) => Number(row.overflow ?? 0) > 0);
    if (overflowed) first = await once(false);
    return first;
  };
  // Residuals are rare: without one in range, cost sums stay in cheaper 64-bit-scale decimals.
  const residuals = usesCost(spec) && (await run(residualProbe(spec, scope, current)))[0]?.r === true;
  // The hourly sums hold recorded prices.
  const hourly = route.useHourly && !current ? hourlyPlan(spec) : null;
  if (hourly) {
    const first = await answer(hourly, residuals);
    if (first?.stale === false) return String(first.j);
  }
  return String((await answer(eventPartsPlan(spec), residuals))?.j ?? "[]");
}

export async function rollup(
  spec: QuerySpec,
  scope: ReadScope,
  run: RunStatement,
  route: Pick<RollupRoute, "useHourly"> = { useHourly: true },
): Promise<RollupRow[]> {
  const text = await answerText(spec, scope, run, { useHourly: route.useHourly, api: false });
  return (JSON.parse(text) as Array<Record<string, PlainValue>>).map((row) => toRollupRow(spec, row));
}

/**
 * Whether the statement can hand back rows exactly as the API shows them: not when a value
 * is an exact ratio (divided in decimal above the driver), nor when buckets cross an offset change.
 */
function apiShapeable(spec: QuerySpec): boolean {
  if (spec.metrics.includes("cost_per_request_usd")) return false;
  if (spec.distribution?.stats.includes("mean")) return false;
  return !spec.grain || bucketOffsets(spec).length === 1;
}

/**
 * A rollup's rows as the JSON text the API answers, built by DuckDB, so that a rollup of
 * a hundred thousand groups is not parsed, reshaped and serialised again in JavaScript; null
 * when only the layer above can shape it (apiShapeable).
 */
export async function rollupJson(
  spec: QuerySpec,
  scope: ReadScope,
  run: RunStatement,
  route: Pick<RollupRoute, "useHourly"> = { useHourly: true },
): Promise<string | null> {
  if (!apiShapeable(spec)) return null;
  return answerText(spec, scope, run, { useHourly: route.useHourly, api: true });
}
