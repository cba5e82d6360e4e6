import { TOKEN_BUCKETS } from "@costtrail/core";
import type { Statement } from "../ledger-driver.js";
import type { EventPrice, PriceVersion, RepriceSelection } from "../ledger-store.js";
import { Params, epochMs, whereSql } from "./sql-parts.js";

/**
 * Re-pricing in DuckDB's SQL. A price version is one `costtrail reprice` run; its new prices
 * live beside the events in `event_prices`, one row per event and version, with the same
 * two-part cost as events. Nothing in `events` is ever changed: `recorded` reads them as they
 * are, `current` reads each event's newest completed version over them (CURRENT_EVENTS).
 */

/** Each event's row in its newest completed version, among the events of [from, to) (bound in `p`). */
function latestPricesSql(p: Params, fromMs: number, toMs: number): string {
  return `SELECT * FROM event_prices WHERE ts >= ${epochMs(p, fromMs)} AND ts < ${epochMs(p, toMs)}
    AND version IN (SELECT version FROM price_versions WHERE state = 'done' AND NOT dry_run)
    QUALIFY row_number() OVER (PARTITION BY project, id ORDER BY version DESC) = 1`;
}

/**
 * The events as the newest completed price versions have them: a relation to read in place of
 * `events`, for a rollup over [fromMs, toMs). A version holds rows only for the events whose
 * price it changed, and only those of the range are joined, so the join is as large as what
 * changed, not as the ledger. An event no version changed keeps its recorded price.
 */
export function currentEventsSql(p: Params, fromMs: number, toMs: number): string {
  return `(SELECT e.* REPLACE (
    CASE WHEN p.id IS NULL THEN e.cost_usd ELSE p.cost_usd END AS cost_usd,
    CASE WHEN p.id IS NULL THEN e.cost_residual ELSE p.cost_residual END AS cost_residual,
    CASE WHEN p.id IS NULL THEN e.computed_cost_usd ELSE p.computed_cost_usd END AS computed_cost_usd,
    CASE WHEN p.id IS NULL THEN e.cost_source ELSE p.cost_source END AS cost_source,
    CASE WHEN p.id IS NULL THEN e.price_status ELSE p.price_status END AS price_status,
    CASE WHEN p.id IS NULL THEN e.rate_card_entry ELSE p.rate_card_entry END AS rate_card_entry,
    CASE WHEN p.id IS NULL THEN e.price_note ELSE p.price_note END AS price_note)
  FROM events e LEFT JOIN (${latestPricesSql(p, fromMs, toMs)}) p
    ON p.id = e.id AND p.project IS NOT DISTINCT FROM e.project AND p.ts = e.ts) AS events`;
}

/** Whether any completed version exists: without one, `current` is `recorded` and the join is skipped. */
export const ANY_CURRENT_SQL = "SELECT EXISTS (SELECT 1 FROM price_versions WHERE state = 'done' AND NOT dry_run) AS found";

const VERSION_COLUMNS = `version, epoch_ms(created_at) AS created_ms, created_by, reason, selection, rate_card, dry_run, state,
  events_total, events_done, done_until_ms, recorded_cost, current_cost, unpriced_before, unpriced_after,
  epoch_ms(finished_at) AS finished_ms, error, events_changed`;

export function listPriceVersions(): Statement {
  return {
    sql: `SELECT ${VERSION_COLUMNS} FROM price_versions QUALIFY row_number() OVER (PARTITION BY version ORDER BY seq DESC) = 1 ORDER BY version`,
    params: [],
  };
}

let lastSeq = 0;

/**
 * A version's state, appended as a new row (the newest `seq` is the state): re-pricing never
 * updates or deletes. DuckDB 1.5 garbled text values of rows updated while the main file was
 * checkpointed (a cost read back as "10.\0\0"), so the tables are append-only.
 */
export function savePriceVersion(v: PriceVersion): Statement {
  const p = new Params();
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  const values = [
    p.bind(v.version),
    p.bind(lastSeq),
    epochMs(p, v.created_ms),
    p.bind(v.created_by),
    p.bind(v.reason),
    p.bind(JSON.stringify(v.selection)),
    p.bind(v.rate_card),
    p.bind(v.dry_run),
    p.bind(v.state),
    p.bind(v.events_total),
    p.bind(v.events_done),
    `CAST(${p.bind(v.done_until_ms)} AS BIGINT)`,
    `CAST(${p.bind(v.recorded_cost)} AS VARCHAR)`,
    `CAST(${p.bind(v.current_cost)} AS VARCHAR)`,
    `CAST(${p.bind(v.unpriced_before)} AS BIGINT)`,
    `CAST(${p.bind(v.unpriced_after)} AS BIGINT)`,
    v.finished_ms === null ? "CAST(NULL AS TIMESTAMP)" : epochMs(p, v.finished_ms),
    `CAST(${p.bind(v.error)} AS VARCHAR)`,
    p.bind(v.events_changed),
  ];
  const columns =
    "version, seq, created_at, created_by, reason, selection, rate_card, dry_run, state, events_total, events_done, done_until_ms, recorded_cost, current_cost, unpriced_before, unpriced_after, finished_at, error, events_changed";
  return { sql: `INSERT INTO price_versions (${columns}) VALUES (${values.join(", ")})`, params: p.values };
}

function selectionWhere(sel: RepriceSelection, p: Params, fromMs = sel.from, toMs = sel.to): string {
  return whereSql({ projects: sel.projects }, Math.max(fromMs, sel.from), Math.min(toMs, sel.to), sel.filters, p);
}

/** A selection's events in [fromMs, toMs) counted per `unitMs` (an hour, a minute, a second, a millisecond), to cut it into windows. */
export function repriceCounts(sel: RepriceSelection, fromMs: number, toMs: number, unitMs: number): Statement {
  const p = new Params();
  const unit = p.bind(unitMs);
  return {
    sql: `SELECT (epoch_ms(ts) // ${unit}) * ${unit} AS start_ms, count(*) AS n FROM events WHERE ${selectionWhere(sel, p, fromMs, toMs)} GROUP BY 1 ORDER BY 1`,
    params: p.values,
  };
}

/**
 * What pricing an event again needs, for the selection's events in [fromMs, toMs), with the
 * price it has now (its newest completed version's, else as recorded) to tell whether it changes.
 */
export function repriceEvents(sel: RepriceSelection, fromMs: number, toMs: number): Statement {
  const p = new Params();
  const buckets = TOKEN_BUCKETS.map((b) => `e."${b}"`).join(", ");
  const where = selectionWhere(sel, p, fromMs, toMs);
  const latest = latestPricesSql(p, Math.max(fromMs, sel.from), Math.min(toMs, sel.to));
  const now = (c: string) => `CASE WHEN l.id IS NULL THEN e.${c} ELSE l.${c} END`;
  return {
    sql: `SELECT e.id, e.project, epoch_ms(e.ts) AS ts_ms, e.provider, e.model, ${buckets}, e.web_search_calls, e.units, e.batch, e.service_tier,
      CAST(${now("cost_usd")} + coalesce(${now("cost_residual")}, 0) AS VARCHAR) AS cost, CAST(${now("computed_cost_usd")} AS VARCHAR) AS computed,
      ${now("cost_source")} AS cost_source, ${now("price_status")} AS price_status, ${now("rate_card_entry")} AS rate_card_entry,
      ${now("price_note")} AS price_note,
      CAST(e.cost_usd + coalesce(e.cost_residual, 0) AS VARCHAR) AS recorded_cost, e.price_status AS recorded_status
      FROM (SELECT * FROM events WHERE ${where}) e
      LEFT JOIN (${latest}) l ON l.id = e.id AND l.project IS NOT DISTINCT FROM e.project AND l.ts = e.ts`,
    params: p.values,
  };
}

const PRICE_ROW_TYPE = JSON.stringify([
  {
    project: "VARCHAR",
    id: "VARCHAR",
    ts_ms: "BIGINT",
    cost: "VARCHAR",
    residual: "VARCHAR",
    computed: "VARCHAR",
    source: "VARCHAR",
    status: "VARCHAR",
    entry: "VARCHAR",
    note: "VARCHAR",
  },
]);

/** One version's new prices for a window of events, as one statement (a JSON list, unnested). */
export function insertEventPrices(version: number, rows: readonly EventPrice[]): Statement {
  const p = new Params();
  const json = JSON.stringify(
    rows.map((r) => ({
      project: r.project,
      id: r.id,
      ts_ms: r.ts_ms,
      cost: r.cost_main,
      residual: r.cost_residual,
      computed: r.computed_cost,
      source: r.cost_source,
      status: r.price_status,
      entry: r.rate_card_entry,
      note: r.price_note,
    })),
  );
  return {
    sql: `INSERT INTO event_prices SELECT ${p.bind(version)}, r.project, r.id, epoch_ms(r.ts_ms), CAST(r.cost AS DECIMAL(18,12)),
      CAST(r.residual AS DECIMAL(38,18)), CAST(r.computed AS DECIMAL(38,18)), r.source, r.status, r.entry, r.note
      FROM (SELECT unnest(from_json(${p.bind(json)}, '${PRICE_ROW_TYPE}')) AS r)`,
    params: p.values,
  };
}

/**
 * Writes the main file's new rows to disk. Appended rows stay in memory until a checkpoint,
 * and the main file is otherwise checkpointed only by compaction, which an idle ledger does not run.
 */
export function checkpointPrices(): Statement {
  return { sql: "CHECKPOINT", params: [] };
}
