import type { Dimension, QueryFilter } from "@costtrail/core";
import type { BoundValue } from "../ledger-driver.js";
import type { ReadScope } from "../ledger-store.js";

/**
 * The pieces every DuckDB statement of the ledger is built from. Every value is bound as a parameter: a statement is text that
 * names `$1, $2…` and the list of values beside it, built by one Params per statement.
 */
export class Params {
  readonly values: BoundValue[] = [];
  bind(v: BoundValue): string {
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

/** A filter's SQL on its own column, or on `on` (an expression holding that dimension's value). */
export function filterSql(f: QueryFilter, p: Params, on?: string): string {
  const col = on ?? dimensionSql(f.column, p);
  switch (f.op) {
    case "eq":
      return `${col} = ${p.bind(f.value as string)}`;
    case "not":
      return `${col} IS DISTINCT FROM ${p.bind(f.value as string)}`;
    case "in":
      return `${col} IN (${bindList(f.value as string[], p)})`;
    case "not_in":
      return `(${col} IS NULL OR ${col} NOT IN (${bindList(f.value as string[], p)}))`;
    case "prefix":
      return `starts_with(${col}, ${p.bind(f.value as string)})`;
    case "exists":
      return `${col} IS NOT NULL`;
    case "not_exists":
      return `${col} IS NULL`;
    default:
      throw new Error(`no SQL for filter op ${String(f.op)}`);
  }
}

export function epochMs(p: Params, ms: number): string {
  return `epoch_ms(CAST(${p.bind(ms)} AS BIGINT))`;
}

/** The key's scope over a `project` column, or null when the key reads every project. */
export function scopeSql(scope: ReadScope, p: Params): string | null {
  if (scope.projects === null) return null;
  return scope.projects.length === 0 ? "FALSE" : `project IN (${bindList(scope.projects, p)})`;
}

/** The one place a read's WHERE is built: the key's scope first, then the time range, then filters. */
export function whereSql(scope: ReadScope, from: number, to: number, filters: readonly QueryFilter[], p: Params): string {
  const parts: string[] = [];
  const scoped = scopeSql(scope, p);
  if (scoped) parts.push(scoped);
  parts.push(`ts >= ${epochMs(p, from)}`, `ts < ${epochMs(p, to)}`);
  for (const f of filters) parts.push(filterSql(f, p));
  return parts.join(" AND ");
}
