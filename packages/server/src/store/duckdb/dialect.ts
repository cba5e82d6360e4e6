import { TOKEN_BUCKETS } from "@costtrail/core";
import type { EventCursor, LedgerDialect, Statement } from "../ledger-driver.js";
import type { EventListRequest, ExportFormat, ReadScope, RecordKind, StoredApiKey, StoredRecord } from "../ledger-store.js";
import { checkpointPrices, insertEventPrices, listPriceVersions, repriceEvents, repriceCounts, savePriceVersion } from "./reprice-sql.js";
import { rollup, rollupJson } from "./rollup-sql.js";
import { EVENT_LIST_COLUMNS, EXACT_COST } from "./schema.js";
import { HOURLY_BUILT_KEY } from "./hourly.js";
import { Params, epochMs, scopeSql, whereSql } from "./sql-parts.js";

/**
 * DuckDB's SQL for the ledger: the dialect a driver speaks (ledger-driver.ts). Rollups are in
 * rollup-sql.ts; the shared pieces (bound parameters, the WHERE every read shares) in sql-parts.ts.
 */

// ── Event pages and exports ────────────────────────────────────────────────────────────────

function eventPage(req: EventListRequest, cursor: EventCursor | null, scope: ReadScope): Statement {
  const p = new Params();
  let where = whereSql(scope, req.from, req.to, req.filters, p);
  if (req.id !== undefined) where += ` AND id = ${p.bind(req.id)}`;
  if (cursor) {
    const t = epochMs(p, cursor.ts_ms);
    where += ` AND (ts < ${t} OR (ts = ${t} AND id < ${p.bind(cursor.id)}))`;
  }
  const cols = EVENT_LIST_COLUMNS.filter((c) => c !== "ts").map((c) => (c === "cost_usd" ? `${EXACT_COST} AS cost_usd` : `"${c}"`));
  return {
    sql: `SELECT ${cols.join(", ")}, epoch_ms(ts) AS ts_ms FROM events WHERE ${where} ORDER BY ts DESC, id DESC LIMIT ${p.bind(req.limit + 1)}`,
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

/** Per (provider, model): requests, unpriced requests, first and last seen, and the token buckets of the unpriced ones. */
function modelUsage(req: { from: number; to: number }, scope: ReadScope): Statement {
  const p = new Params();
  const unpriced = "price_status = 'unpriced'";
  const buckets = TOKEN_BUCKETS.map((b) => `CAST(sum("${b}") FILTER (WHERE ${unpriced}) AS BIGINT) AS "unpriced_${b}"`);
  return {
    sql: `SELECT provider, model, count(*) AS requests, count(*) FILTER (WHERE ${unpriced}) AS unpriced_requests,
      epoch_ms(min(ts)) AS first_ms, epoch_ms(max(ts)) AS last_ms, ${buckets.join(", ")}
      FROM events WHERE ${whereSql(scope, req.from, req.to, [], p)} GROUP BY provider, model ORDER BY provider, model`,
    params: p.values,
  };
}

/**
 * Tag keys on the events of a time range, the most used first, with how many events carry
 * each. Whole hours of compacted events are counted from the hourly table's tag rows (a
 * month of ten million events is a few thousand rows there); the partial hours at either end
 * and the live segments from the events. A tag the hourly table dropped for holding a value
 * per call is counted only where it is read from events, which is the best a group-by list can
 * use it for anyway. Without a built hourly table, every event is read.
 */
function tagKeys(req: { from: number; to: number; limit: number }, scope: ReadScope): Statement {
  const p = new Params();
  const fromHour = Math.ceil(req.from / 3_600_000) * 3_600_000;
  const toHour = Math.max(fromHour, Math.floor(req.to / 3_600_000) * 3_600_000);
  const keysOf = (table: string, extra: string) =>
    `SELECT k AS key, count(*) AS n FROM (SELECT unnest(map_keys(tags)) AS k FROM ${table} WHERE ${whereSql(scope, req.from, req.to, [], p)}${extra}) GROUP BY k`;
  const built = `(SELECT count(*) > 0 FROM meta WHERE key = ${p.bind(HOURLY_BUILT_KEY)})`;
  const hourly = `SELECT substr(dim, 5) AS key, sum(requests) AS n FROM hourly
    WHERE ${built} AND dim LIKE 'tag.%' AND ${scopeSql(scope, p) ?? "TRUE"} AND hour >= ${epochMs(p, fromHour)} AND hour < ${epochMs(p, toHour)} GROUP BY dim`;
  const outside = ` AND (NOT ${built} OR ts < ${epochMs(p, fromHour)} OR ts >= ${epochMs(p, toHour)})`;
  return {
    sql: `SELECT key, CAST(sum(n) AS BIGINT) AS events FROM (${hourly} UNION ALL ${keysOf("main_events", outside)} UNION ALL ${keysOf("live_events", "")})
      GROUP BY key ORDER BY events DESC, key LIMIT ${Math.max(1, Math.floor(req.limit))}`,
    params: p.values,
  };
}

// ── The writer's lookups (run on its own connection, with positional values) ───────────────

/** Events under some ids within a time range: $1, $2 epoch ms bounds, $3 the ids. */
export const existingEventsSql = `SELECT id, project, epoch_ms(ts) AS ms, content_hash FROM events
  WHERE ts >= epoch_ms(CAST($1 AS BIGINT)) AND ts <= epoch_ms(CAST($2 AS BIGINT)) AND id IN (SELECT unnest($3))`;

/** The newest events received since $1 (epoch ms), at most $2 of them, oldest first. */
export const recentIdentitiesSql = `SELECT * FROM (SELECT id, project, epoch_ms(ts) AS ms, epoch_ms(received_at) AS received FROM events
  WHERE received_at >= epoch_ms(CAST($1 AS BIGINT)) ORDER BY received_at DESC LIMIT $2) ORDER BY received ASC`;

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

// ── Records (overrides, alerts, audit log) ─────────────────────────────────────────────────

function appendRecords(records: readonly StoredRecord[]): Statement {
  const p = new Params();
  const rows = records.map((r) => `(${p.bind(r.kind)}, ${p.bind(r.id)}, ${epochMs(p, r.at_ms)}, ${p.bind(JSON.stringify(r.body))})`);
  return { sql: `INSERT INTO records (kind, id, recorded_at, body) VALUES ${rows.join(", ")}`, params: p.values };
}

function listRecords(kind: RecordKind, opts: { sinceMs?: number; limit?: number; history?: string }): Statement {
  const p = new Params();
  const columns = "kind, id, epoch_ms(recorded_at) AS at_ms, body, seq";
  if (opts.history !== undefined)
    return {
      sql: `SELECT ${columns} FROM records WHERE kind = ${p.bind(kind)} AND id = ${p.bind(opts.history)} ORDER BY seq`,
      params: p.values,
    };
  const newest = `SELECT ${columns} FROM records WHERE kind = ${p.bind(kind)} QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1`;
  const since = opts.sinceMs === undefined ? "" : `WHERE at_ms >= ${p.bind(opts.sinceMs)}`;
  const limit = opts.limit === undefined ? "" : `LIMIT ${Math.max(1, Math.floor(opts.limit))}`;
  return { sql: `SELECT * FROM (${newest}) ${since} ORDER BY seq DESC ${limit}`, params: p.values };
}

export const duckdbDialect: LedgerDialect = {
  appendRecords,
  listRecords,
  rollup: (spec, scope, run) => rollup(spec, scope, run),
  rollupJson: (spec, scope, run) => rollupJson(spec, scope, run),
  eventPage,
  exportRows,
  count,
  modelUsage,
  tagKeys,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKeys,
  keyUsage,
  reprice: {
    listPriceVersions,
    savePriceVersion,
    repriceCounts,
    repriceEvents,
    insertEventPrices,
    checkpointPrices,
  },
};
