import { ATTRIBUTION_COLUMNS, TOKEN_BUCKETS } from "@costtrail/core";
import { HOURLY_TABLE_SQL, RUN_HOURS_MIGRATION_SQL, RUN_HOURS_TABLE_SQL } from "./hourly.js";

/** Digits kept after the point for money: exact for any rate with up to 12 decimals per million tokens. */
export const MONEY_SCALE = 18;
/**
 * An event's cost is stored in two parts: `cost_usd`, a 64-bit DECIMAL(18,12) that rollups sum
 * fast, and `cost_residual`, the exact rest (digits past the 12th place, or the whole cost when
 * it is exactly the $1,000,000 limit), NULL for nearly every event. Their sum is the exact cost;
 * every read adds them. A 128-bit column would be exact alone but makes a filtered rollup three
 * times slower (its values are decompressed for every row a filter looks at).
 *
 * Why no sum can overflow: core refuses an event costing more than $1,000,000 (MAX_EVENT_COST_USD),
 * so |cost_usd| < 10⁶ and |cost_residual| ≤ 10⁶ (rounded to 18 places on the way in). DuckDB sums
 * DECIMAL(18,12) into DECIMAL(38,12), whose limit is 10²⁶, and DECIMAL(38,18) into DECIMAL(38,18),
 * whose limit is 10²⁰; their sum is DECIMAL(38,18), limit 10²⁰. A sum therefore overflows only
 * past 10²⁰ / 10⁶ = 10¹⁴ events all at the limit: a hundred trillion rows, far beyond what one
 * ledger holds. Token counts are BIGINT up to 10¹² each, summed into HUGEINT (10³⁸).
 */
export const COST_SCALE = 12;
export const COST_LIMIT = 10n ** 18n;

/** SQL for an event's exact cost. */
export const EXACT_COST = "(cost_usd + coalesce(cost_residual, 0))";
/** SQL for the exact sum of a group's costs: NULL when nothing in it is priced. */
export const SUM_COST = "(sum(cost_usd) + coalesce(sum(cost_residual), 0))";

/**
 * The events table. Money is the two-part cost above; token buckets are BIGINT. Tags are a MAP
 * so `tags['queue']` groups without parsing.
 */
export const EVENT_COLUMNS: ReadonlyArray<readonly [name: string, type: string]> = [
  ["id", "VARCHAR NOT NULL"],
  // UTC instants as plain TIMESTAMP: truncating them is arithmetic, where TIMESTAMPTZ would
  // call the calendar library per row (ten times slower at a million rows).
  ["ts", "TIMESTAMP NOT NULL"],
  ["received_at", "TIMESTAMP NOT NULL"],
  ...ATTRIBUTION_COLUMNS.map((c) => [c, "VARCHAR"] as const),
  ["provider", "VARCHAR NOT NULL"],
  ["model", "VARCHAR NOT NULL"],
  ["api", "VARCHAR"],
  ["operation", "VARCHAR"],
  ...TOKEN_BUCKETS.map((b) => [b, "BIGINT"] as const),
  ["web_search_calls", "BIGINT"],
  ["units", "VARCHAR"],
  ["cost_usd", "DECIMAL(18,12)"],
  ["cost_residual", "DECIMAL(38,18)"],
  ["computed_cost_usd", "DECIMAL(38,18)"],
  ["cost_source", "VARCHAR"],
  ["price_status", "VARCHAR NOT NULL"],
  ["rate_card_entry", "VARCHAR"],
  ["price_note", "VARCHAR"],
  ["batch", "BOOLEAN"],
  ["service_tier", "VARCHAR"],
  ["status", "VARCHAR NOT NULL"],
  ["error_type", "VARCHAR"],
  ["attempt", "INTEGER"],
  ["latency_ms", "DOUBLE"],
  ["ttft_ms", "DOUBLE"],
  ["streamed", "BOOLEAN"],
  ["cache_hit", "BOOLEAN"],
  ["tags", "MAP(VARCHAR, VARCHAR)"],
  ["raw_usage", "VARCHAR"],
  // Added after the first release: last, so that ALTER TABLE on an older ledger gives the same order.
  ["content_hash", "BIGINT"],
];

/** Columns an event page and an export show, in this order. */
export const EVENT_LIST_COLUMNS: readonly string[] = [
  "id",
  "ts",
  ...ATTRIBUTION_COLUMNS,
  "provider",
  "model",
  "api",
  "operation",
  ...TOKEN_BUCKETS,
  "web_search_calls",
  "units",
  "cost_usd",
  "computed_cost_usd",
  "cost_source",
  "price_status",
  "rate_card_entry",
  "price_note",
  "batch",
  "service_tier",
  "status",
  "error_type",
  "attempt",
  "latency_ms",
  "ttft_ms",
  "streamed",
  "cache_hit",
  "tags",
  "raw_usage",
];

/** The events table under a (qualified) name: the main file's and each live segment's are the same. */
export const EVENTS_TABLE_SQL = (name: string): string =>
  `CREATE TABLE IF NOT EXISTS ${name} (${EVENT_COLUMNS.map(([n, t]) => `"${n}" ${t}`).join(", ")})`;

/**
 * A live segment's columns: the events table's, but tags as JSON text. DuckDB writes a commit's
 * rows to the WAL by scanning from the start of their 2,048-row vector, and for a LIST or MAP
 * column that writes the whole child vector each time: with realistic tags a MAP column added
 * 12–14 KB to every commit, most of the WAL at one event per request. Text stays flat. The tags
 * become a MAP again as segments are read (LIVE_EVENTS_SQL) and compacted.
 */
export const LIVE_EVENT_COLUMNS: ReadonlyArray<readonly [name: string, type: string]> = EVENT_COLUMNS.map(([n, t]) =>
  n === "tags" ? [n, "VARCHAR"] : [n, t],
);

export const LIVE_EVENTS_TABLE_SQL = (name: string): string =>
  `CREATE TABLE IF NOT EXISTS ${name} (${LIVE_EVENT_COLUMNS.map(([n, t]) => `"${n}" ${t}`).join(", ")})`;

/**
 * A live segment's events in the events table's shape. A segment written by an older release
 * has a MAP already; the cast through JSON takes either.
 */
export const LIVE_EVENTS_SQL = (name: string): string =>
  `SELECT * REPLACE (CAST(CAST(tags AS JSON) AS MAP(VARCHAR, VARCHAR)) AS tags) FROM ${name}`;

/** Brings an events table made by an older release up to EVENT_COLUMNS (a no-op on a current one). */
export const EVENTS_MIGRATION_SQL = (name: string): string[] => [`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS content_hash BIGINT`];

/**
 * Re-pricing's tables, both only ever appended to: each saved state of a price version
 * (`costtrail reprice`; the newest `seq` is its state), and each version's new price of each
 * event whose price it changed, beside the events (reprice-sql.ts).
 */
export const REPRICE_SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS price_versions (version INTEGER NOT NULL, seq BIGINT NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, selection VARCHAR NOT NULL, rate_card VARCHAR NOT NULL, dry_run BOOLEAN NOT NULL, state VARCHAR NOT NULL,
    events_total BIGINT NOT NULL, events_done BIGINT NOT NULL, done_until_ms BIGINT, recorded_cost VARCHAR, current_cost VARCHAR,
    unpriced_before BIGINT, unpriced_after BIGINT, finished_at TIMESTAMP, error VARCHAR, events_changed BIGINT)`,
  `CREATE TABLE IF NOT EXISTS event_prices (version INTEGER NOT NULL, project VARCHAR, id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
    cost_usd DECIMAL(18,12), cost_residual DECIMAL(38,18), computed_cost_usd DECIMAL(38,18), cost_source VARCHAR,
    price_status VARCHAR NOT NULL, rate_card_entry VARCHAR, price_note VARCHAR)`,
];

export const SCHEMA_SQL = [
  EVENTS_TABLE_SQL("events"),
  ...EVENTS_MIGRATION_SQL("events"),
  `CREATE TABLE IF NOT EXISTS api_keys (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, scopes VARCHAR[] NOT NULL, projects VARCHAR[], created_at TIMESTAMP NOT NULL)`,
  "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMP",
  `CREATE TABLE IF NOT EXISTS api_key_usage (id VARCHAR PRIMARY KEY, last_used_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
  HOURLY_TABLE_SQL,
  RUN_HOURS_TABLE_SQL,
  RUN_HOURS_MIGRATION_SQL,
  ...REPRICE_SCHEMA_SQL,
  "CREATE SEQUENCE IF NOT EXISTS record_seq",
  `CREATE TABLE IF NOT EXISTS records (kind VARCHAR NOT NULL, id VARCHAR NOT NULL, seq BIGINT NOT NULL DEFAULT nextval('record_seq'),
    recorded_at TIMESTAMP NOT NULL, body VARCHAR NOT NULL)`,
];
