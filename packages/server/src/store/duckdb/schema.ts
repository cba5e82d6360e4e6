import { ATTRIBUTION_COLUMNS, TOKEN_BUCKETS } from "@costtrail/core";

/**
 * The events table. Money is DECIMAL(38,18): exact, and wide enough for a sum of a billion
 * events. Token buckets are BIGINT. Tags are a MAP so `tags['queue']` groups without parsing.
 */
export const EVENT_COLUMNS: ReadonlyArray<readonly [name: string, type: string]> = [
  ["id", "VARCHAR NOT NULL"],
  ["ts", "TIMESTAMPTZ NOT NULL"],
  ["received_at", "TIMESTAMPTZ NOT NULL"],
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

/** How a staging column (plain types, cheap to append from JS) becomes an events column. */
export function stagingType(type: string): "VARCHAR" | "DOUBLE" | "BOOLEAN" {
  if (type.startsWith("BIGINT") || type.startsWith("INTEGER") || type.startsWith("DOUBLE") || type.startsWith("TIMESTAMPTZ"))
    return "DOUBLE";
  if (type.startsWith("BOOLEAN")) return "BOOLEAN";
  return "VARCHAR";
}

export function castFromStaging(name: string, type: string): string {
  const q = `s."${name}"`;
  if (type.startsWith("TIMESTAMPTZ")) return `CAST(epoch_ms(CAST(${q} AS BIGINT)) AS TIMESTAMPTZ)`;
  if (type.startsWith("BIGINT")) return `CAST(${q} AS BIGINT)`;
  if (type.startsWith("INTEGER")) return `CAST(${q} AS INTEGER)`;
  if (type.startsWith("DECIMAL")) return `CAST(${q} AS DECIMAL(38,18))`;
  if (type.startsWith("MAP")) return `CAST(json_transform(${q}, '"MAP(VARCHAR, VARCHAR)"') AS MAP(VARCHAR, VARCHAR))`;
  return q;
}

export const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS.map(([n, t]) => `"${n}" ${t}`).join(", ")})`,
  `CREATE TABLE IF NOT EXISTS api_keys (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, scopes VARCHAR[] NOT NULL, projects VARCHAR[], created_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
];

export const STAGING_SQL = `CREATE TEMP TABLE IF NOT EXISTS staging (${EVENT_COLUMNS.map(([n, t]) => `"${n}" ${stagingType(t)}`).join(", ")})`;
