import { Decimal } from "@costtrail/core";
import { DuckDBDecimalValue, DuckDBMapValue, DuckDBTimestampTZValue, DuckDBTimestampValue, type DuckDBValue } from "@duckdb/node-api";
import type { PlainRow, PlainValue } from "../ledger-driver.js";

/** Converts a value read from DuckDB into plain JSON: money to exact decimal text, times to ISO. */
export function plain(v: unknown): PlainValue {
  if (v === null || v === undefined) return null;
  // Per-row integers (token counts up to 10¹², epoch ms) are exact as numbers.
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof DuckDBDecimalValue) return Decimal.of(v.value, v.scale).toString();
  if (v instanceof DuckDBTimestampTZValue || v instanceof DuckDBTimestampValue) return new Date(Number(v.micros / 1000n)).toISOString();
  if (v instanceof DuckDBMapValue) {
    const out: Record<string, string> = {};
    for (const e of v.entries) out[String(e.key)] = String(e.value);
    return out;
  }
  return String(v);
}

export function plainRow(row: Record<string, DuckDBValue>): PlainRow {
  const out: Record<string, PlainValue> = {};
  for (const k in row) out[k] = plain(row[k]);
  return out;
}
