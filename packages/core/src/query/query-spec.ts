import { type Issue, type IssuePath, type Result, issue } from "../errors.js";
import { isPlainObject } from "../event/fields.js";
import { ATTRIBUTION_COLUMNS } from "../event/usage-event.js";
import { isTimeZone } from "../time/time-zone.js";
import { TOKEN_BUCKETS } from "../usage/buckets.js";

/** Columns besides attribution that queries can group and filter by. */
export const DESCRIPTIVE_COLUMNS = [
  "provider",
  "model",
  "api",
  "operation",
  "status",
  "price_status",
  "cost_source",
  "service_tier",
  "error_type",
] as const;
export const DIMENSION_COLUMNS = [...ATTRIBUTION_COLUMNS, ...DESCRIPTIVE_COLUMNS] as const;
export type DimensionColumn = (typeof DIMENSION_COLUMNS)[number];
/** A column, or `tag.<key>` for a free tag. */
export type Dimension = DimensionColumn | `tag.${string}`;

export const ADDITIVE_METRICS = [
  "cost_usd",
  "requests",
  "errors",
  "unpriced_requests",
  "total_tokens",
  ...TOKEN_BUCKETS,
  "web_search_calls",
] as const;
export const LATENCY_METRICS = [
  "latency_ms_p50",
  "latency_ms_p90",
  "latency_ms_p99",
  "latency_ms_max",
  "ttft_ms_p50",
  "ttft_ms_p99",
] as const;
export const DERIVED_METRICS = ["cost_per_request_usd", "error_rate", "unique_users", "unique_agent_runs"] as const;
/**
 * Where a provider reports a cost (OpenRouter's `usage.cost`): the reported total, and the
 * reported minus what the rate card computes for the same events (positive: the provider
 * billed more). Both over the events that carry a reported cost; null when none does.
 */
export const PROVIDER_COST_METRICS = ["provider_cost_usd", "provider_cost_difference_usd"] as const;
export const METRICS = [...ADDITIVE_METRICS, ...LATENCY_METRICS, ...DERIVED_METRICS, ...PROVIDER_COST_METRICS] as const;
/** Metrics whose values are money: exact decimal text in answers. */
export const MONEY_METRICS: ReadonlySet<string> = new Set(["cost_usd", ...PROVIDER_COST_METRICS]);
export type Metric = (typeof METRICS)[number];
export type AdditiveMetric = (typeof ADDITIVE_METRICS)[number];

export const GRAINS = ["hour", "day", "week", "month"] as const;
export type Grain = (typeof GRAINS)[number];
export const FILTER_OPS = ["eq", "in", "not", "not_in", "prefix", "exists", "not_exists"] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
export const DISTRIBUTION_STATS = ["p50", "p90", "p95", "p99", "max", "min", "mean", "count"] as const;
export type DistributionStat = (typeof DISTRIBUTION_STATS)[number];

export interface QueryFilter {
  readonly column: Dimension;
  readonly op: FilterOp;
  readonly value?: string | readonly string[];
}

export interface QuerySpec {
  readonly metrics: readonly Metric[];
  readonly group_by: readonly Dimension[];
  readonly grain: Grain | null;
  readonly time_zone: string;
  /** Inclusive start and exclusive end, epoch milliseconds. */
  readonly from: number;
  readonly to: number;
  readonly filters: readonly QueryFilter[];
  readonly order_by: ReadonlyArray<{ readonly key: string; readonly desc: boolean }>;
  readonly limit: number | null;
  /** With a limit, fold the remaining groups into one row whose group values are "(other)". */
  readonly other: boolean;
  /**
   * A distribution over a grouping key: the metric is first summed per `per` value (each
   * agent run), then summarised per group (p50/p99/max of cost per run, by feature).
   */
  readonly distribution: { readonly metric: AdditiveMetric; readonly per: Dimension; readonly stats: readonly DistributionStat[] } | null;
  /**
   * `recorded`: each event's cost as it was priced when it arrived. `current`: the latest
   * completed re-pricing of each event where there is one (`costtrail reprice`), else as recorded.
   */
  readonly pricing: Pricing;
}

export const PRICINGS = ["recorded", "current"] as const;
export type Pricing = (typeof PRICINGS)[number];

export const OTHER_GROUP = "(other)";
export const MAX_QUERY_LIMIT = 10_000;
const DEFAULT_RANGE_MS = 30 * 86_400_000;
const TAG_KEY_RE = /^tag\.[A-Za-z_][\w.-]{0,63}$/;

export function isDimension(v: unknown): v is Dimension {
  return typeof v === "string" && ((DIMENSION_COLUMNS as readonly string[]).includes(v) || TAG_KEY_RE.test(v));
}

function dimension(v: unknown, path: IssuePath, issues: Issue[]): Dimension | undefined {
  if (isDimension(v)) return v;
  issues.push(issue("invalid_value", path, `must be a column (${DIMENSION_COLUMNS.join(", ")}) or tag.<key>, got ${JSON.stringify(v)}`));
  return undefined;
}

function time(v: unknown, path: IssuePath, issues: Issue[]): number | undefined {
  const ms = typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) {
    issues.push(issue("invalid_format", path, `must be an ISO-8601 time such as "2026-11-01T00:00:00Z", got ${JSON.stringify(v)}`));
    return undefined;
  }
  return ms;
}

const KEYS = [
  "metrics",
  "group_by",
  "grain",
  "time_zone",
  "from",
  "to",
  "filters",
  "order_by",
  "limit",
  "other",
  "distribution",
  "pricing",
];

/**
 * Checks a query request (DESIGN.md: POST /v1/query) and fills its defaults: the last
 * 30 days, UTC, no grouping. Every problem is reported with its path.
 */
export function validateQuery(value: unknown, now: number = Date.now()): Result<QuerySpec> {
  const issues: Issue[] = [];
  if (!isPlainObject(value)) return { ok: false, issues: [issue("invalid_type", [], "must be a JSON object")] };
  for (const k of Object.keys(value))
    if (!KEYS.includes(k)) issues.push(issue("unknown_field", [k], `is not a query field; expected one of ${KEYS.join(", ")}`));

  let metrics: Metric[] = [];
  if (!Array.isArray(value.metrics) || (value.metrics.length === 0 && value.distribution === undefined)) {
    issues.push(issue("required", ["metrics"], `must be a non-empty list of metrics: ${METRICS.join(", ")}`));
  } else {
    metrics = value.metrics.filter((m, i) => {
      if ((METRICS as readonly unknown[]).includes(m)) return true;
      issues.push(issue("invalid_value", ["metrics", i], `must be one of ${METRICS.join(", ")}, got ${JSON.stringify(m)}`));
      return false;
    }) as Metric[];
  }

  const groupBy: Dimension[] = [];
  if (value.group_by !== undefined) {
    if (!Array.isArray(value.group_by) || value.group_by.length > 4)
      issues.push(issue("invalid_type", ["group_by"], "must be a list of at most 4 columns or tag.<key>"));
    else
      value.group_by.forEach((g, i) => {
        const d = dimension(g, ["group_by", i], issues);
        if (d) groupBy.push(d);
      });
  }

  let grain: Grain | null = null;
  if (value.grain !== undefined && value.grain !== null) {
    if ((GRAINS as readonly unknown[]).includes(value.grain)) grain = value.grain as Grain;
    else issues.push(issue("invalid_value", ["grain"], `must be one of ${GRAINS.join(", ")}, got ${JSON.stringify(value.grain)}`));
  }

  let timeZone = "UTC";
  let pricing: Pricing = "recorded";
  if (value.pricing !== undefined) {
    if ((PRICINGS as readonly unknown[]).includes(value.pricing)) pricing = value.pricing as Pricing;
    else issues.push(issue("invalid_value", ["pricing"], `must be one of ${PRICINGS.join(", ")}, got ${JSON.stringify(value.pricing)}`));
  }
  if (value.time_zone !== undefined) {
    if (typeof value.time_zone === "string" && isTimeZone(value.time_zone)) timeZone = value.time_zone;
    else
      issues.push(
        issue("invalid_value", ["time_zone"], `must be an IANA time zone such as "Europe/Berlin", got ${JSON.stringify(value.time_zone)}`),
      );
  }

  const to = value.to === undefined ? now : time(value.to, ["to"], issues);
  const from = value.from === undefined ? (to ?? now) - DEFAULT_RANGE_MS : time(value.from, ["from"], issues);
  if (from !== undefined && to !== undefined && from >= to) issues.push(issue("inconsistent", ["from"], "must be before to"));

  const filters: QueryFilter[] = [];
  if (value.filters !== undefined) {
    if (!Array.isArray(value.filters)) issues.push(issue("invalid_type", ["filters"], "must be a list of {column, op, value}"));
    else
      value.filters.forEach((f, i) => {
        const p = ["filters", i];
        if (!isPlainObject(f)) {
          issues.push(issue("invalid_type", p, "must be an object {column, op, value}"));
          return;
        }
        const column = dimension(f.column, [...p, "column"], issues);
        const op = f.op as FilterOp;
        if (!(FILTER_OPS as readonly unknown[]).includes(op)) {
          issues.push(issue("invalid_value", [...p, "op"], `must be one of ${FILTER_OPS.join(", ")}, got ${JSON.stringify(f.op)}`));
          return;
        }
        if (op === "exists" || op === "not_exists") {
          if (column) filters.push({ column, op });
          return;
        }
        if (op === "in" || op === "not_in") {
          if (!Array.isArray(f.value) || f.value.length === 0 || f.value.length > 1000 || !f.value.every((x) => typeof x === "string")) {
            issues.push(issue("invalid_value", [...p, "value"], "must be a list of 1 to 1000 strings"));
            return;
          }
          if (column) filters.push({ column, op, value: f.value as string[] });
          return;
        }
        if (typeof f.value !== "string") {
          issues.push(issue("invalid_type", [...p, "value"], `must be a string for op ${op}`));
          return;
        }
        if (column) filters.push({ column, op, value: f.value });
      });
  }

  let distribution: QuerySpec["distribution"] = null;
  if (value.distribution !== undefined) {
    const d = value.distribution;
    const p = ["distribution"];
    if (!isPlainObject(d)) issues.push(issue("invalid_type", p, "must be an object {metric, per, stats}"));
    else {
      const metric = d.metric ?? "cost_usd";
      if (!(ADDITIVE_METRICS as readonly unknown[]).includes(metric))
        issues.push(issue("invalid_value", [...p, "metric"], `must be an additive metric: ${ADDITIVE_METRICS.join(", ")}`));
      const per = dimension(d.per, [...p, "per"], issues);
      const stats = d.stats ?? ["p50", "p90", "p99", "max"];
      if (!Array.isArray(stats) || stats.length === 0 || !stats.every((s) => (DISTRIBUTION_STATS as readonly unknown[]).includes(s))) {
        issues.push(issue("invalid_value", [...p, "stats"], `must be a list of ${DISTRIBUTION_STATS.join(", ")}`));
      } else if (per) distribution = { metric: metric as AdditiveMetric, per, stats: stats as DistributionStat[] };
      if (per && groupBy.includes(per)) issues.push(issue("inconsistent", [...p, "per"], "must not also be in group_by"));
      const nonAdditive = metrics.filter((m) => !(ADDITIVE_METRICS as readonly string[]).includes(m));
      if (nonAdditive.length > 0)
        issues.push(
          issue("inconsistent", ["metrics"], `with a distribution only additive metrics can be asked, not ${nonAdditive.join(", ")}`),
        );
    }
  }

  const outputs = new Set<string>([...groupBy, ...metrics, ...(grain ? ["bucket"] : [])]);
  if (distribution) for (const s of distribution.stats) outputs.add(`${distribution.metric}_${s}`);
  const orderBy: Array<{ key: string; desc: boolean }> = [];
  if (value.order_by !== undefined) {
    if (!Array.isArray(value.order_by)) issues.push(issue("invalid_type", ["order_by"], "must be a list of {metric | column, desc}"));
    else
      value.order_by.forEach((o, i) => {
        const key = isPlainObject(o) ? (o.metric ?? o.column) : undefined;
        if (typeof key !== "string" || !outputs.has(key)) {
          issues.push(
            issue(
              "invalid_value",
              ["order_by", i],
              `must be {"metric": …} or {"column": …} naming a requested metric or grouped column: ${[...outputs].join(", ")}`,
            ),
          );
          return;
        }
        orderBy.push({ key, desc: isPlainObject(o) && o.desc === true });
      });
  }

  let limit: number | null = null;
  if (value.limit !== undefined && value.limit !== null) {
    if (typeof value.limit === "number" && Number.isInteger(value.limit) && value.limit >= 1 && value.limit <= MAX_QUERY_LIMIT)
      limit = value.limit;
    else issues.push(issue("invalid_value", ["limit"], `must be an integer from 1 to ${MAX_QUERY_LIMIT}`));
  }
  if (value.other !== undefined && typeof value.other !== "boolean") issues.push(issue("invalid_type", ["other"], "must be a boolean"));
  const other = limit !== null && groupBy.length > 0 && value.other !== false;

  if (issues.length > 0 || from === undefined || to === undefined) return { ok: false, issues };
  return {
    ok: true,
    value: {
      metrics,
      group_by: groupBy,
      grain,
      time_zone: timeZone,
      from,
      to,
      filters,
      order_by: orderBy,
      limit,
      other,
      distribution,
      pricing,
    },
  };
}
