import type { UsageEvent } from "@costtrail/core";

/**
 * What became of one batch. `retryable` batches are kept (in memory, then in the spool) and
 * sent again; `failure` batches can never succeed as sent (the collector refused them) and are
 * dropped and counted.
 */
export type ExportOutcome =
  | { readonly kind: "success"; readonly accepted: number; readonly rejected: number; readonly duplicates: number }
  | { readonly kind: "retryable"; readonly error: Error; readonly retryAfterMs?: number }
  | { readonly kind: "failure"; readonly error: Error; readonly splittable?: boolean };

/** Sends batches of events somewhere. Implementations never throw: they answer an outcome. */
export interface EventExporter {
  /** `signal` aborts a send the process can no longer wait for (at exit); answer retryable then. */
  export(events: readonly UsageEvent[], signal?: AbortSignal): Promise<ExportOutcome>;
  shutdown?(): Promise<void>;
}
