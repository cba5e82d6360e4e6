import { ATTRIBUTION_COLUMNS, DIMENSION_COLUMNS, TOKEN_BUCKETS } from "@costtrail/core";

/**
 * Hourly totals of the compacted events, kept beside them in the main file so that a rollup
 * over a month reads thousands of rows instead of millions.
 *
 * `hourly` holds, per (project, UTC hour), the sums of every additive metric: once in total
 * (`dim` = '') and once per value of each rolled-up dimension (`dim` = the column, or
 * `tag.<key>`). It is a sum of marginals, not a cube: a rollup grouped by one dimension
 * (and optionally project) reads it; one grouped by two others, or filtered on a dimension it
 * does not group by, reads the events.
 *
 * The table is written in the transaction that copies a segment into the main file, from
 * that segment's rows, so it always sums exactly the main file's events: a read that takes
 * whole hours from it takes the partial hours at either end, and every live segment's events,
 * from the events themselves (rollup-sql.ts).
 *
 * Dimensions that identify one call or one run (agent run, trace, span) are left out. A
 * dimension whose hourly values turn out nearly as many as the events (a tag holding a request
 * id, say) is dropped from the table for good the first time a segment shows it, and rollups
 * by it read the events; `meta` records which.
 */

/** Columns whose values are per call or per run: never rolled up by hour. */
const PER_CALL = new Set(["agent_run_id", "trace_id", "span_id", "parent_span_id"]);
export const HOURLY_COLUMNS: readonly string[] = DIMENSION_COLUMNS.filter((c) => !PER_CALL.has(c));

/**
 * A dimension is dropped when one segment gives it more hourly rows than this share of its
 * events, and more than MIN_DROP_ROWS: past that, its sums would be nearly as many as the
 * events and barely faster (a tag holding a request id). On the realistic bench, 5,000 users
 * give about one row per six events. A quiet ledger's few events per hour give a row per
 * event for every dimension, but few rows in all, so small segments never drop one.
 */
const MAX_ROWS_PER_EVENT = 0.5;
const MIN_DROP_ROWS = 50_000;

/** The additive parts stored per row; rollup-sql.ts sums them again. */
export const HOURLY_PARTS: ReadonlyArray<readonly [name: string, type: string, fromEvents: string]> = [
  // Money as the events store it, in two parts; sums of DECIMAL(18,12) are DECIMAL(38,12).
  ["cost_usd", "DECIMAL(38,12)", "sum(cost_usd)"],
  ["cost_residual", "DECIMAL(38,18)", "sum(cost_residual)"],
  // Events with a cost: a group's cost is NULL (unknown, not $0) when it has none.
  ["priced", "BIGINT", "count(cost_usd)"],
  ["requests", "BIGINT", "count(*)"],
  ["errors", "BIGINT", "count(*) FILTER (WHERE status = 'error')"],
  ["unpriced_requests", "BIGINT", "count(*) FILTER (WHERE price_status = 'unpriced')"],
  ...TOKEN_BUCKETS.map((b) => [b, "HUGEINT", `coalesce(sum("${b}"), 0)`] as const),
  ["web_search_calls", "HUGEINT", "coalesce(sum(web_search_calls), 0)"],
];

/** `unit` tells one compaction's rows from another's (its start time, epoch ms). */
export const HOURLY_TABLE_SQL = `CREATE TABLE IF NOT EXISTS hourly (dim VARCHAR NOT NULL, value VARCHAR, project VARCHAR, hour TIMESTAMP NOT NULL, ${HOURLY_PARTS.map(
  ([n, t]) => `"${n}" ${t}`,
).join(", ")}, unit BIGINT NOT NULL)`;

/**
 * `run_hours` holds, per (project, UTC hour, agent run) and the attribution a run carries,
 * the same parts: what a distribution per agent run reads instead of every call (a run's
 * calls mostly fall in one hour, so about a row per run). Left out, like a dimension, when
 * runs turn out to be single calls (`hourly-dropped:agent_run_id`).
 *
 * `whole` is true on a row that is its run's only row in the table. A distribution takes such a
 * run's sums from its row as they are, and sums per run only the other rows (with the events
 * not yet in the table), instead of grouping two million rows by run. Each compaction sets it
 * for the runs it adds rows to (markWholeRuns), in the same transaction.
 */
export const RUN_COLUMNS: readonly string[] = ATTRIBUTION_COLUMNS.filter((c) => c !== "project" && c !== "api_key_id" && !PER_CALL.has(c));
export const RUN_HOURS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS run_hours (project VARCHAR, hour TIMESTAMP NOT NULL, agent_run_id VARCHAR NOT NULL, ${RUN_COLUMNS.map(
  (c) => `"${c}" VARCHAR`,
).join(", ")}, ${HOURLY_PARTS.map(([n, t]) => `"${n}" ${t}`).join(", ")}, unit BIGINT NOT NULL, whole BOOLEAN DEFAULT false)`;
/** Adds `whole` to a `run_hours` made before it (its rows false, then set once at start). */
export const RUN_HOURS_MIGRATION_SQL = "ALTER TABLE run_hours ADD COLUMN IF NOT EXISTS whole BOOLEAN DEFAULT false";

/** `meta` keys: a table is complete for the main file's events; a dimension left out. */
export const HOURLY_BUILT_KEY = "hourly:v1";
export const RUN_HOURS_BUILT_KEY = "run-hours:v1";
/** `meta` key: every `run_hours` row's `whole` is set. */
export const RUN_HOURS_WHOLE_KEY = "run-hours-whole:v1";
/** The dimension whose dropping leaves `run_hours` out. */
export const RUN_DIMENSION = "agent_run_id";
export const HOURLY_DROPPED_PREFIX = "hourly-dropped:";

const PART_SELECTS = HOURLY_PARTS.map(([n, , e]) => `${e} AS "${n}"`).join(", ");

/**
 * Every hourly row of the events in `source` (a qualified table or a subquery): the totals
 * and each column dimension in one grouping-sets pass, then the tags.
 */
export function hourlyRowsSql(source: string, dropped: ReadonlySet<string>): string {
  const columns = HOURLY_COLUMNS.filter((c) => c !== "project" && !dropped.has(c));
  const droppedTags = [...dropped].filter((d) => d.startsWith("tag.")).map((d) => `'${d.replace(/'/g, "''")}'`);
  const which = columns.length > 0 ? `CASE ${columns.map((c) => `WHEN grouping("${c}") = 0 THEN '${c}'`).join(" ")} ELSE '' END` : "''";
  const value = columns.length > 0 ? `CASE ${columns.map((c) => `WHEN grouping("${c}") = 0 THEN "${c}"`).join(" ")} END` : "NULL";
  const sets = ["(project, hour)", ...columns.map((c) => `(project, hour, "${c}")`)].join(", ");
  const byColumn = `SELECT ${which} AS dim, CAST(${value} AS VARCHAR) AS value, project, hour, ${PART_SELECTS}
    FROM (SELECT *, date_trunc('hour', ts) AS hour FROM ${source}) GROUP BY GROUPING SETS (${sets})`;
  const byTag = `SELECT 'tag.' || tag.key AS dim, tag.value AS value, project, hour, ${PART_SELECTS}
    FROM (SELECT *, date_trunc('hour', ts) AS hour, unnest(map_entries(tags)) AS tag FROM ${source} WHERE cardinality(tags) > 0)
    ${droppedTags.length > 0 ? `WHERE 'tag.' || tag.key NOT IN (${droppedTags.join(", ")})` : ""} GROUP BY ALL`;
  return `${byColumn} UNION ALL ${byTag}`;
}

/**
 * Adds the hourly rows of the events in `source` to `table` as compaction `unit`, inside the
 * caller's transaction, and drops any dimension that came out oversized (its rows deleted, a
 * marker in `meta`). Returns the dimensions dropped now.
 */
export async function addHourly(
  run: (sql: string) => Promise<unknown>,
  all: (sql: string) => Promise<unknown[][]>,
  target: { catalog: string; dimensions: boolean; runs: boolean },
  source: string,
  unit: number,
  dropped: ReadonlySet<string>,
): Promise<string[]> {
  const table = (name: string) => `"${target.catalog}".main.${name}`;
  const [[events] = [0]] = await all(`SELECT count(*) FROM ${source}`);
  const limit = Math.max(MIN_DROP_ROWS, Math.floor(Number(events) * MAX_ROWS_PER_EVENT));
  const oversized: string[] = [];
  if (target.dimensions) {
    await run(
      `INSERT INTO ${table("hourly")} BY NAME SELECT *, CAST(${unit} AS BIGINT) AS unit FROM (${hourlyRowsSql(source, dropped)}) ORDER BY dim, project, hour`,
    );
    const rows = await all(`SELECT dim FROM ${table("hourly")} WHERE unit = ${unit} AND dim <> '' GROUP BY dim HAVING count(*) > ${limit}`);
    for (const [dim] of rows) {
      oversized.push(String(dim));
      await run(`DELETE FROM ${table("hourly")} WHERE dim = '${String(dim).replace(/'/g, "''")}'`);
    }
  }
  if (target.runs && !dropped.has(RUN_DIMENSION)) {
    await run(
      `INSERT INTO ${table("run_hours")} BY NAME SELECT *, CAST(${unit} AS BIGINT) AS unit FROM (${runRowsSql(source)}) ORDER BY project, hour, agent_run_id`,
    );
    const [[runs] = [0]] = await all(`SELECT count(*) FROM ${table("run_hours")} WHERE unit = ${unit}`);
    if (Number(runs) > limit) {
      oversized.push(RUN_DIMENSION);
      await run(`DELETE FROM ${table("run_hours")}`);
    } else await run(markWholeRunsSql(table("run_hours"), unit));
  }
  for (const dim of oversized)
    await run(
      `INSERT OR REPLACE INTO ${table("meta")} VALUES ('${HOURLY_DROPPED_PREFIX}${dim.replace(/'/g, "''")}', CAST(now() AS VARCHAR))`,
    );
  return oversized;
}

/**
 * Sets `whole` on every row of the runs that compaction `unit` added rows to (all rows when
 * `unit` is null): true where the row is its run's only one. A run that had one row before and
 * gets another now loses the flag on both.
 */
export function markWholeRunsSql(runHours: string, unit: number | null): string {
  const runs = unit === null ? "" : `WHERE agent_run_id IN (SELECT agent_run_id FROM ${runHours} WHERE unit = ${unit})`;
  return `UPDATE ${runHours} SET whole = c.n = 1
    FROM (SELECT agent_run_id, count(*) AS n FROM ${runHours} ${runs} GROUP BY agent_run_id) c
    WHERE ${runHours}.agent_run_id = c.agent_run_id AND ${runHours}.whole IS DISTINCT FROM (c.n = 1)`;
}

/** Every run's hourly row of the events in `source`. */
export function runRowsSql(source: string): string {
  return `SELECT project, date_trunc('hour', ts) AS hour, agent_run_id, ${RUN_COLUMNS.map((c) => `"${c}"`).join(", ")}, ${PART_SELECTS}
    FROM ${source} WHERE agent_run_id IS NOT NULL GROUP BY ALL`;
}

/**
 * The hourly rows of one dimension (`dim` is its bound name), or of the totals (null): columns
 * `value`, `project`, `hour` and the parts. A tag's rows cover only the events that carry it,
 * so the events without it (value NULL) are the totals minus the tag's rows, hour by hour;
 * a column's rows already hold its NULL group.
 */
export function hourlyDimensionSql(dim: string | null, tag: boolean): string {
  if (dim === null) return `SELECT * FROM hourly WHERE dim = ''`;
  if (!tag) return `SELECT * FROM hourly WHERE dim = ${dim}`;
  const sums = (where: string) => `SELECT project, hour, ${hourlyPartSums(ALL_PARTS)} FROM hourly WHERE ${where} GROUP BY project, hour`;
  const rest = HOURLY_PARTS.map(([n]) => {
    if (n === "cost_usd") return `CASE WHEN t.priced - coalesce(s.priced, 0) > 0 THEN t.cost_usd - coalesce(s.cost_usd, 0) END AS cost_usd`;
    if (n === "cost_residual") return `coalesce(t.cost_residual, 0) - coalesce(s.cost_residual, 0) AS cost_residual`;
    return `t."${n}" - coalesce(s."${n}", 0) AS "${n}"`;
  }).join(", ");
  const missing = `SELECT NULL AS value, t.project, t.hour, ${rest}
    FROM (${sums("dim = ''")}) t LEFT JOIN (${sums(`dim = ${dim}`)}) s ON t.project IS NOT DISTINCT FROM s.project AND t.hour = s.hour
    WHERE t.requests - coalesce(s.requests, 0) > 0`;
  return `SELECT value, project, hour, ${HOURLY_PARTS.map(([n]) => `"${n}"`).join(", ")} FROM hourly WHERE dim = ${dim} UNION ALL ${missing}`;
}

/** The parts a metric is summed from. */
export function partsOf(metric: string): readonly string[] {
  switch (metric) {
    case "cost_usd":
      return ["cost_usd", "cost_residual"];
    case "cost_per_request_usd":
      return ["cost_usd", "cost_residual", "requests"];
    case "error_rate":
      return ["errors", "requests"];
    case "total_tokens":
      return TOKEN_BUCKETS;
    default:
      return [metric];
  }
}

const ALL_PARTS: ReadonlySet<string> = new Set(HOURLY_PARTS.map(([n]) => n));

/** Named parts summed again, for a GROUP BY over hourly rows. */
export function hourlyPartSums(parts: ReadonlySet<string>): string {
  return HOURLY_PARTS.filter(([n]) => parts.has(n))
    .map(([n]) => `sum("${n}") AS "${n}"`)
    .join(", ");
}

/** Named parts computed from events, for a GROUP BY over events. */
export function eventPartSums(parts: ReadonlySet<string>): string {
  return HOURLY_PARTS.filter(([n]) => parts.has(n))
    .map(([n, , e]) => `${e} AS "${n}"`)
    .join(", ");
}
