import type { PreparedEvent, QuerySpec } from "@costtrail/core";

/**
 * What a read may see. Built by the one scoping function from the request's key
 * (query/read-scope.ts); every read method of a store takes it and applies it.
 */
export interface ReadScope {
  /** null: every project. An empty list sees nothing. */
  readonly projects: readonly string[] | null;
}

export interface AppendResult {
  /** Ids written by this call. */
  readonly inserted: number;
  /** Ids already in the ledger (a retried batch), not written again. */
  readonly duplicates: readonly string[];
}

export type QueryRow = Record<string, string | number | null>;

export interface EventPage {
  readonly events: Array<Record<string, unknown>>;
  readonly next_cursor: string | null;
}

export interface EventListRequest {
  readonly from: number;
  readonly to: number;
  readonly filters: QuerySpec["filters"];
  readonly limit: number;
  readonly cursor: { readonly ts_ms: number; readonly id: string } | null;
}

export type ExportFormat = "csv" | "ndjson" | "parquet";

export interface StoredApiKey {
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly scopes: readonly string[];
  readonly projects: readonly string[] | null;
  readonly created_ms: number;
}

/** The ledger. DuckDB (embedded default) and ClickHouse implement the same contract. */
export interface LedgerStore {
  /** Appends durably: resolves only after the events are committed. Idempotent by id. */
  append(events: readonly PreparedEvent[], receivedMs?: number): Promise<AppendResult>;
  query(spec: QuerySpec, scope: ReadScope): Promise<QueryRow[]>;
  listEvents(req: EventListRequest, scope: ReadScope): Promise<EventPage>;
  /** Writes matching events to a file in the given format and returns its path. */
  exportTo(path: string, format: ExportFormat, req: Omit<EventListRequest, "limit" | "cursor">, scope: ReadScope): Promise<number>;
  count(scope: ReadScope): Promise<number>;
  saveApiKey(key: StoredApiKey): Promise<void>;
  listApiKeys(): Promise<StoredApiKey[]>;
  /** Rows waiting to be written; the collector sheds load above its limit. */
  pendingRows(): number;
  close(): Promise<void>;
}
