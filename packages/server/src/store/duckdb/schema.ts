import { ATTRIBUTION_COLUMNS, TOKEN_BUCKETS } from "@costtrail/core";

/** Digits kept after the point for money: exact for any rate with up to 12 decimals per million tokens. */
export const MONEY_SCALE = 18;

/**
 * The events table. Money is DECIMAL(38,18): exact, and wide enough for a sum of a billion
 * events. Token buckets are BIGINT. Tags are a MAP so `tags['queue']` groups without parsing.
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
  ["cost_usd", "DECIMAL(38,18)"],
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
];

export const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS.map(([n, t]) => `"${n}" ${t}`).join(", ")})`,
  `CREATE TABLE IF NOT EXISTS api_keys (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, scopes VARCHAR[] NOT NULL, projects VARCHAR[], created_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
];
