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
  /** The models seen in a time range, with their unpriced requests and those requests' tokens. */
  modelUsage(req: { from: number; to: number }, scope: ReadScope): Promise<ModelUsage[]>;
  saveApiKey(key: StoredApiKey): Promise<void>;
  listApiKeys(): Promise<StoredApiKey[]>;
  /** Marks a key revoked from `atMs` on (now, or later for a rotation's grace period). */
  revokeApiKey(id: string, atMs: number): Promise<void>;
  /** Records last-used times (id → epoch ms); written in batches, not per request. */
  touchApiKeys(lastUsed: ReadonlyMap<string, number>): Promise<void>;
  /** Last-used times of keys of every source (configured and bootstrap keys too), id → epoch ms. */
  keyUsage(): Promise<Map<string, number>>;
  /** Rows waiting to be written; the collector sheds load above its limit. */
  pendingRows(): number;
  close(): Promise<void>;
}
