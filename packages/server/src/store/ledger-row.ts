import type { AttributionColumn, TokenBucket } from "@costtrail/core";

/** One usage event as the ledger stores it: validated, normalized into buckets and priced. */
export interface LedgerRow {
  readonly id: string;
  readonly ts_ms: number;
  readonly received_ms: number;
  readonly attribution: { readonly [K in AttributionColumn]?: string };
  readonly provider: string;
  readonly model: string;
  readonly api: string | null;
  readonly operation: string | null;
  readonly buckets: { readonly [K in TokenBucket]?: number };
  readonly web_search_calls: number;
  /** Non-token units other than web searches, as JSON (`{"images": 2}`), or null. */
  readonly units_json: string | null;
  /** Exact decimal text, or null when unpriced. */
  readonly cost_usd: string | null;
  readonly computed_cost_usd: string | null;
  readonly cost_source: string | null;
  readonly price_status: "priced" | "unpriced";
  readonly rate_card_entry: string | null;
  readonly price_note: string | null;
  readonly batch: boolean;
  readonly service_tier: string | null;
  readonly status: string;
  readonly error_type: string | null;
  readonly attempt: number | null;
  readonly latency_ms: number | null;
  readonly ttft_ms: number | null;
  readonly streamed: boolean | null;
  readonly cache_hit: boolean | null;
  readonly tags: Readonly<Record<string, string>> | null;
  readonly raw_usage_json: string | null;
}
