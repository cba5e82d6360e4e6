import type { PreparedEvent, QuerySpec } from "@costtrail/core";
import type {
  AppendResult,
  EventListRequest,
  EventPrice,
  ExportFormat,
  PriceVersion,
  ReadScope,
  RepriceSelection,
  StoredApiKey,
  RecordKind,
  StoredRecord,
} from "./ledger-store.js";

/**
 * What a ledger driver implements: SQL in its own dialect, and I/O. Everything else (shaping
 * rows for the API, cursors, mapping failures to one error) lives once in ledger.ts, so a
 * second driver (ClickHouse) is a dialect and a connection, nothing more.
 */

/** A value bound to a statement's parameter. */
export type BoundValue = string | number | boolean | bigint | null;

/** SQL text with its bound values. Values are never spliced into the text. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly BoundValue[];
}

/** A value as a driver hands it back: money as exact decimal text, times as ISO text, maps as objects. */
export type PlainValue = string | number | boolean | null | Readonly<Record<string, string>>;
export type PlainRow = Readonly<Record<string, PlainValue>>;

/** What one append call did with each of its events (the same answer the store gives). */
export type AppendOutcome = AppendResult;

/** One row of a rollup, before it is shaped for the API. */
export interface RollupRow {
  /** Group values in `group_by` order. */
  readonly groups: ReadonlyArray<string | null>;
  /** The bucket's local wall time as if it were UTC (epoch ms), when the query has a grain. */
  readonly bucketLocalMs: number | null;
  /** Values in `metrics` order: money as exact decimal text, ratios as "sum/count" text. */
  readonly metrics: readonly PlainValue[];
  /** Values in `distribution.stats` order; `mean` as "sum/count" text. */
  readonly stats: readonly PlainValue[];
}

/** Runs a statement through the shared layer, which maps any failure to one error. */
export type RunStatement = (statement: Statement) => Promise<PlainRow[]>;

/** A cursor as decoded by the shared layer: the last event of the previous page. */
export interface EventCursor {
  readonly ts_ms: number;
  readonly id: string;
}

/** The SQL a driver speaks. Pure: statements are built here and run by the caller. */
export interface LedgerDialect {
  /**
   * Answers a rollup. It may need more than one statement (a probe, a retry in wider
   * arithmetic); each is run through `run`, which does the I/O.
   */
  rollup(spec: QuerySpec, scope: ReadScope, run: RunStatement): Promise<RollupRow[]>;
  /**
   * A rollup's rows already in the API's shape, as JSON text (what the ledger's `query` gives,
   * serialised), or null when this rollup needs the shaping above the driver.
   */
  rollupJson(spec: QuerySpec, scope: ReadScope, run: RunStatement): Promise<string | null>;
  /**
   * A page of events newest first, one row more than `limit` to tell whether another page
   * follows. Columns: `id`, `ts_ms`, and the stored columns named in EVENT_FIELDS_OUT.
   */
  eventPage(req: EventListRequest, cursor: EventCursor | null, scope: ReadScope): Statement;
  /** The events an export writes, oldest first, as columns ready for the format. */
  exportRows(req: Omit<EventListRequest, "limit">, format: ExportFormat, scope: ReadScope): Statement;
  /** One row with column `n`. */
  count(scope: ReadScope): Statement;
  /**
   * One row per (provider, model) seen in the range: `provider`, `model`, `requests`,
   * `unpriced_requests`, `first_ms`, `last_ms`, and `unpriced_<bucket>` token sums.
   */
  modelUsage(req: { from: number; to: number }, scope: ReadScope): Statement;
  /** Rows `key`, `events`: the tag keys in use, the most used first. */
  tagKeys(req: { from: number; to: number; limit: number }, scope: ReadScope): Statement;
  insertApiKey(key: StoredApiKey): Statement;
  appendRecords(records: readonly StoredRecord[]): Statement;
  /** Rows `kind`, `id`, `at_ms`, `body` (JSON text). */
  listRecords(kind: RecordKind, opts: { sinceMs?: number; limit?: number; history?: string }): Statement;
  /** Rows with StoredApiKey's columns; `scopes` and `projects` as JSON text. */
  listApiKeys(): Statement;
  revokeApiKey(id: string, revokedMs: number): Statement;
  /** Records that keys were used; one statement for the whole map of id → last-used time. */
  touchApiKeys(lastUsed: ReadonlyMap<string, number>): Statement;
  /** Rows `id`, `last_used_ms` for keys of every source. */
  keyUsage(): Statement;
  /** Re-pricing's statements (duckdb/reprice-sql.ts has what each returns). */
  readonly reprice: {
    listPriceVersions(): Statement;
    savePriceVersion(v: PriceVersion): Statement;
    repriceCounts(sel: RepriceSelection, fromMs: number, toMs: number, unitMs: number): Statement;
    repriceEvents(sel: RepriceSelection, fromMs: number, toMs: number): Statement;
    insertEventPrices(version: number, rows: readonly EventPrice[]): Statement;
    checkpointPrices(): Statement;
  };
}

/** The I/O half of a driver. */
export interface LedgerDriver {
  readonly dialect: LedgerDialect;
  /** Appends durably: resolves only after the events are committed. Idempotent by id. */
  append(events: readonly PreparedEvent[], receivedMs: number): Promise<AppendOutcome>;
  /** Runs a read over every event in the ledger (and its side tables) and returns plain rows. */
  all(statement: Statement): Promise<PlainRow[]>;
  /** Runs a write to a side table (API keys); never to events, which only `append` writes. */
  execute(statement: Statement): Promise<void>;
  /** Writes the rows of a statement to a file in the given format; returns the row count. */
  copyTo(statement: Statement, path: string, format: ExportFormat): Promise<number>;
  /** Rows waiting to be written; the collector sheds load above its limit. */
  pendingRows(): number;
  close(): Promise<void>;
}
