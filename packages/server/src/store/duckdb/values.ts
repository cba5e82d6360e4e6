import { Decimal } from "@costtrail/core";
import { DuckDBDecimalValue, DuckDBMapValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from "@duckdb/node-api";

/** Converts a value read from DuckDB into plain JSON: money to exact decimal text, times to ISO. */
export function plain(v: unknown): string | number | boolean | null | Record<string, string> {
  if (v === null || v === undefined) return null;
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

/** "sum/count" from the store, divided exactly and rounded half-even to 12 places. */
export function ratio(v: unknown): string | null {
  if (typeof v !== "string") return null;
  const [num, den] = v.split("/");
  const count = BigInt(den ?? "0");
  if (count === 0n) return null;
  const sum = Decimal.parse(num ?? "0");
  const scaled = sum.rescale(Math.max(sum.scale, 13));
  const q = Decimal.of(scaled.coef / count, scaled.scale);
  return q.round(12).toString();
}
