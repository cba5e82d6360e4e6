import Big from "big.js";
import { sumDecimals } from "../api/queries.js";
import type { QueryRow } from "../api/types.js";
import type { Series } from "./charts.js";

/** The most series a chart shows; the rest are summed into "Other". */
export const MAX_SERIES = 7;
export const OTHER = "Other";

/** A row's group as a label: one dimension's value, or two joined by " · ". */
export function groupLabel(row: QueryRow, dims: readonly string[]): string {
  return dims.map((d) => (row[d] === null || row[d] === undefined ? "(none)" : String(row[d]))).join(" · ");
}

/** Rows of (bucket, group…, metric) into a chart's series: the biggest groups, the rest as "Other", exact sums. */
export function toSeries(rows: readonly QueryRow[], dims: readonly string[], metric: string, buckets: readonly string[]): Series[] {
  const totals = new Map<string, Big>();
  for (const r of rows) {
    const g = groupLabel(r, dims);
    totals.set(g, (totals.get(g) ?? new Big(0)).plus(String(r[metric] ?? "0")));
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1].cmp(a[1]) || a[0].localeCompare(b[0])).map(([g]) => g);
  const shown = ranked.length > MAX_SERIES + 1 ? ranked.slice(0, MAX_SERIES) : ranked;
  const shownSet = new Set(shown);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const cells = new Map<string, string[][]>();
  for (const g of [...shown, OTHER])
    cells.set(
      g,
      buckets.map(() => []),
    );
  for (const r of rows) {
    const g = groupLabel(r, dims);
    const i = index.get(String(r.bucket));
    if (i === undefined) continue;
    cells.get(shownSet.has(g) ? g : OTHER)?.[i]?.push(String(r[metric] ?? "0"));
  }
  const out: Series[] = [];
  for (const [g, perBucket] of cells) {
    if (g === OTHER && shown.length === ranked.length) continue;
    out.push({ label: g, values: perBucket.map((vals) => sumDecimals(vals)) });
  }
  return out;
}
