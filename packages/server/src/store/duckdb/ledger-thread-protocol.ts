import type { AppendOutcome, PlainRow, Statement } from "../ledger-driver.js";
import type { ExportFormat } from "../ledger-store.js";
import type { DuckDBDriverOptions } from "./driver.js";
import type { LedgerBatch } from "./ledger-batch.js";

/**
 * The messages between the request thread (ledger-thread-client.ts) and the ledger thread
 * (ledger-thread.ts). Both sides import these types; nothing is cast from strings.
 */

/** What each request carries, by kind. */
export interface LedgerRequests {
  /** Several requests' appends in one batch of columns, cut into parts by `sizes`. */
  append: { readonly batch: LedgerBatch; readonly sizes: readonly number[] };
  all: { readonly statement: Statement };
  execute: { readonly statement: Statement };
  copyTo: { readonly statement: Statement; readonly path: string; readonly format: ExportFormat };
  settle: Record<string, never>;
  close: Record<string, never>;
}

/** An error as it crosses: a Costtrail code when it has one, and the message for the log. */
export interface WireError {
  readonly code: string | null;
  readonly message: string;
}

/** One part of an append message, answered on its own. */
export type AppendSettled = { readonly ok: true; readonly outcome: AppendOutcome } | { readonly ok: false; readonly error: WireError };

/** What each request is answered with, by kind. */
export interface LedgerAnswers {
  append: AppendSettled[];
  all: PlainRow[];
  execute: null;
  copyTo: number;
  settle: null;
  close: null;
}

export type LedgerKind = keyof LedgerRequests;

export type LedgerRequest = { [K in LedgerKind]: { readonly id: number; readonly kind: K } & LedgerRequests[K] }[LedgerKind];

export type LedgerAnswer =
  | { readonly id: number; readonly ok: true; readonly value: LedgerAnswers[LedgerKind] }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/** The first message the ledger thread sends: it opened the ledger, or why not. */
export type LedgerThreadStatus = { readonly kind: "ready" } | { readonly kind: "failed"; readonly error: WireError };

/** What the ledger thread is started with. */
export type LedgerThreadData = DuckDBDriverOptions;

export function wireError(e: unknown): WireError {
  const code = (e as { code?: unknown }).code;
  return {
    code: typeof code === "string" && code.startsWith("CT_") ? code : null,
    message: (e as Error)?.message ?? String(e),
  };
}
