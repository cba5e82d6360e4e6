import type { QuerySpec } from "@costtrail/core";
import { stringify } from "csv-stringify/sync";
import type { QueryRow } from "../store/ledger-store.js";

/** A query's columns in the order the API answers them: bucket, groups, distribution, metrics. */
export function queryColumns(spec: QuerySpec): string[] {
  const d = spec.distribution;
  return [...(spec.grain ? ["bucket"] : []), ...spec.group_by, ...(d ? d.stats.map((s) => `${d.metric}_${s}`) : []), ...spec.metrics];
}

/**
 * A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
 * as a formula. Group values are whatever callers sent as attribution, so such a value gets a
 * leading apostrophe and stays text; metric columns are numbers and are left as they are.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** The rows of a query as CSV (RFC 4180, a header row): money as the exact decimals the JSON answer has. */
export function queryCsv(spec: QuerySpec, rows: readonly QueryRow[]): string {
  const columns = queryColumns(spec);
  const text = new Set<string>(["bucket", ...spec.group_by]);
  return stringify(
    rows.map((r) =>
      columns.map((c) => {
        const v = r[c];
        if (v === null || v === undefined) return "";
        const s = String(v);
        return text.has(c) && FORMULA_START.test(s) ? `'${s}` : s;
      }),
    ),
    { header: true, columns, record_delimiter: "\r\n" },
  );
}
