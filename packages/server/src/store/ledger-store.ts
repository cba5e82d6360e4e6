import type { PreparedEvent, QueryFilter, QuerySpec, TokenBucket } from "@costtrail/core";

/**
 * What a read may see. Built by the one scoping function from the request's key
 * (query/read-scope.ts); every read method of a store takes it and applies it.
 */
export interface ReadScope {
  /** null: every project. An empty list sees nothing. */
  readonly projects: readonly string[] | null;
}

/** What an append did with each event of the call, by index within the call. */
export interface AppendResult {
  readonly inserted: number;
  /** Same id and same content as an event already in the ledger (or earlier in the call): not written again. */
  readonly duplicates: readonly number[];
  /** Same id as an event already in the ledger, with another timestamp or other content: not written. */
  readonly conflicts: ReadonlyArray<{ readonly index: number; readonly existing_timestamp: string }>;
}

export type QueryRow = Record<string, string | number | null>;

export interface EventPage {
  readonly events: Array<Record<string, unknown>>;
  readonly next_cursor: string | null;
}

export interface EventListRequest {
  readonly from: number;
  readonly to: number;
  readonly filters: readonly QueryFilter[];
  readonly limit: number;
  /** One event by its id (within the range): what the dashboard's event page reads. */
  readonly id?: string;
}

export interface ModelUsage {
  readonly provider: string;
  readonly model: string;
  readonly requests: number;
  readonly unpriced_requests: number;
  readonly first_seen_ms: number;
  readonly last_seen_ms: number;
  /** Token buckets summed over the unpriced requests (zero buckets left out). */
  readonly unpriced_buckets: Partial<Record<TokenBucket, number>>;
}

/** The events a re-pricing covers: a time range, filters, and the projects of the key that asked. */
export interface RepriceSelection {
  readonly from: number;
  readonly to: number;
  readonly filters: readonly QueryFilter[];
  /** null: every project. */
  readonly projects: readonly string[] | null;
}

/** One re-pricing run (`costtrail reprice`): who, when, why, over what, and how far it got. */
export interface PriceVersion {
  readonly version: number;
  readonly created_ms: number;
  /** The API key that asked: `name (id)`. */
  readonly created_by: string;
  readonly reason: string;
  readonly selection: RepriceSelection;
  /** A fingerprint of the rate card it prices with; a resumed run must find the same one. */
  readonly rate_card: string;
  readonly dry_run: boolean;
  readonly state: "running" | "done" | "failed";
  readonly events_total: number;
  readonly events_done: number;
  /** Events whose price the version changed: the rows it writes. */
  readonly events_changed: number;
  /** Every selected event before this instant is priced (and written); resumption starts here. */
  readonly done_until_ms: number | null;
  /** Exact decimal totals over the selection: as recorded, and as this version prices them. */
  readonly recorded_cost: string | null;
  readonly current_cost: string | null;
  readonly unpriced_before: number | null;
  readonly unpriced_after: number | null;
  readonly finished_ms: number | null;
  readonly error: string | null;
}

/** What pricing a stored event again reads of it. */
export interface RepriceEvent {
  readonly id: string;
  readonly project: string | null;
  readonly ts_ms: number;
  readonly provider: string;
  readonly model: string;
  readonly buckets: Partial<Record<TokenBucket, number>>;
  readonly units: Record<string, number>;
  readonly batch: boolean;
  readonly service_tier: string | null;
  /** Its price now (its newest completed version's, else as recorded): source, exact cost, computed cost, status, entry, note. */
  readonly cost_source: string | null;
  readonly cost: string | null;
  readonly computed: string | null;
  readonly price_status: string;
  readonly rate_card_entry: string | null;
  readonly price_note: string | null;
  /** As it was recorded when it arrived. */
  readonly recorded_cost: string | null;
  readonly recorded_status: string;
}

/** An event's price in a version, the cost in the events table's two parts. */
export interface EventPrice {
  readonly id: string;
  readonly project: string | null;
  readonly ts_ms: number;
  readonly cost_main: string | null;
  readonly cost_residual: string | null;
  readonly computed_cost: string | null;
  readonly cost_source: string | null;
  readonly price_status: string;
  readonly rate_card_entry: string | null;
  readonly price_note: string | null;
}

export type ExportFormat = "csv" | "ndjson" | "parquet";

export interface StoredApiKey {
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly scopes: readonly string[];
  readonly projects: readonly string[] | null;
  readonly created_ms: number;
  /** When the key stopped (or stops) working; null while it is valid. */
  readonly revoked_ms: number | null;
  readonly last_used_ms: number | null;
}

export const RECORD_KINDS = ["override", "alert", "audit"] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * Runtime state beside the ledger: override requests, alerts and the audit log. Records are
 * only appended; the newest record of an id is its state, the older ones its history.
 */
export interface StoredRecord {
  readonly kind: RecordKind;
  readonly id: string;
  readonly at_ms: number;
  /** JSON-safe; money in it is decimal strings. */
  readonly body: Readonly<Record<string, unknown>>;
}

/** The ledger. DuckDB (embedded default) and ClickHouse implement the same contract. */
export interface LedgerStore {
  /** Appends durably: resolves only after the events are committed. Idempotent by id. */
  append(events: readonly PreparedEvent[], receivedMs?: number): Promise<AppendResult>;
  query(spec: QuerySpec, scope: ReadScope): Promise<QueryRow[]>;
  /** The same rows as `query`, as the JSON text of their array: what the API sends. */
  queryJson(spec: QuerySpec, scope: ReadScope): Promise<string>;
  /** A page of events, newest first; `cursor` is a previous page's `next_cursor` (CT_INVALID_CURSOR otherwise). */
  listEvents(req: EventListRequest, cursor: string | null, scope: ReadScope): Promise<EventPage>;
  /** Writes matching events to a file in the given format and returns the row count; on failure no file is left. */
  exportTo(path: string, format: ExportFormat, req: Omit<EventListRequest, "limit">, scope: ReadScope): Promise<number>;
  count(scope: ReadScope): Promise<number>;
  /** Re-pricing: every price version in its newest state, oldest first; saving a state (appended). */
  priceVersions(): Promise<PriceVersion[]>;
  savePriceVersion(v: PriceVersion): Promise<void>;
  /** A selection's events in [fromMs, toMs) per `unitMs` of time (`start_ms`, `events`), oldest first. */
  repriceCounts(sel: RepriceSelection, fromMs: number, toMs: number, unitMs: number): Promise<Array<{ start_ms: number; events: number }>>;
  /** A selection's events in [fromMs, toMs), as pricing them again needs them. */
  repriceEvents(sel: RepriceSelection, fromMs: number, toMs: number): Promise<RepriceEvent[]>;
  writeEventPrices(version: number, rows: readonly EventPrice[]): Promise<void>;
  /** Moves written prices from memory to disk; skipped while another write is under way. */
  checkpointPrices(): Promise<void>;
  /** The models seen in a time range, with their unpriced requests and those requests' tokens. */
  modelUsage(req: { from: number; to: number }, scope: ReadScope): Promise<ModelUsage[]>;
  /** The tag keys on a time range's events, the most used first, with how many events carry each. */
  tagKeys(req: { from: number; to: number; limit: number }, scope: ReadScope): Promise<Array<{ key: string; events: number }>>;
  saveApiKey(key: StoredApiKey): Promise<void>;
  listApiKeys(): Promise<StoredApiKey[]>;
  /** Marks a key revoked from `atMs` on (now, or later for a rotation's grace period). */
  revokeApiKey(id: string, atMs: number): Promise<void>;
  /** Records last-used times (id → epoch ms); written in batches, not per request. */
  touchApiKeys(lastUsed: ReadonlyMap<string, number>): Promise<void>;
  /** Last-used times of keys of every source (configured and bootstrap keys too), id → epoch ms. */
  keyUsage(): Promise<Map<string, number>>;
  appendRecords(records: readonly StoredRecord[]): Promise<void>;
  /** The newest record of each id of a kind, newest first; with `history`, every record of one id, oldest first. */
  listRecords(
    kind: RecordKind,
    opts?: { readonly sinceMs?: number; readonly limit?: number; readonly history?: string },
  ): Promise<StoredRecord[]>;
  /** Rows waiting to be written; the collector sheds load above its limit. */
  pendingRows(): number;
  close(): Promise<void>;
}
