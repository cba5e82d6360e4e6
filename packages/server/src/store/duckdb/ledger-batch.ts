import { ATTRIBUTION_COLUMNS, type PreparedEvent, TOKEN_BUCKETS } from "@costtrail/core";
import { contentHash } from "../idempotency.js";

/**
 * Events as the ledger stores them (validated, normalized into buckets, priced), column by
 * column. This is what crosses to the ledger thread: a structured clone of a few dozen arrays
 * costs a third of one object per event, numbers travel as typed arrays (one copy each),
 * and the chunk writer reads each column straight from its array.
 *
 * Absent values: null in string columns, NaN in number columns, -1 in flag columns.
 */
export interface LedgerBatch {
  readonly length: number;
  readonly id: string[];
  readonly ts_ms: Float64Array;
  readonly received_ms: Float64Array;
  /** One column per attribution column, in ATTRIBUTION_COLUMNS order. */
  readonly attribution: Array<Array<string | null>>;
  readonly provider: string[];
  readonly model: string[];
  readonly api: Array<string | null>;
  readonly operation: Array<string | null>;
  /** One column per token bucket, in TOKEN_BUCKETS order. */
  readonly buckets: Float64Array[];
  readonly web_search_calls: Float64Array;
  /** Non-token units other than web searches, as JSON (`{"images": 2}`). */
  readonly units_json: Array<string | null>;
  /** Exact decimal text; null when unpriced. */
  readonly cost_usd: Array<string | null>;
  readonly computed_cost_usd: Array<string | null>;
  readonly cost_source: Array<string | null>;
  readonly price_status: string[];
  readonly rate_card_entry: Array<string | null>;
  readonly price_note: Array<string | null>;
  /** 1 for a batch-API call, else 0. */
  readonly batch: Uint8Array;
  readonly service_tier: Array<string | null>;
  readonly status: string[];
  readonly error_type: Array<string | null>;
  readonly attempt: Float64Array;
  readonly latency_ms: Float64Array;
  readonly ttft_ms: Float64Array;
  readonly streamed: Int8Array;
  readonly cache_hit: Int8Array;
  /** Tags, flattened: event i's are `tag_keys/tag_values[tag_start[i] .. tag_start[i] + tag_count[i])`; count -1 is no tags. */
  readonly tag_start: Uint32Array;
  readonly tag_count: Int32Array;
  readonly tag_keys: string[];
  readonly tag_values: string[];
  readonly raw_usage_json: Array<string | null>;
  /** What the event says, as a 52-bit fingerprint (idempotency.ts): a resend with the same content is a duplicate, other content a conflict. */
  readonly content_hash: Float64Array;
}

/** The store keeps 18 decimal places; a cost with more (a rate with many digits times a discount) is rounded and says so. */
const STORE_SCALE = 18;

function moneyText(d: PreparedEvent["price"]["cost"], notes: string[]): string | null {
  if (d === null) return null;
  if (d.scale <= STORE_SCALE) return d.toString();
  const rounded = d.round(STORE_SCALE);
  if (!rounded.eq(d)) notes.push(`cost ${d.toString()} rounded to ${STORE_SCALE} decimal places for storage`);
  return rounded.toString();
}

function flag(v: boolean | undefined): number {
  return v === undefined ? -1 : v ? 1 : 0;
}

/** Collects prepared events into a LedgerBatch. */
export class LedgerBatchBuilder {
  private n = 0;
  private readonly id: string[] = [];
  private readonly ts: number[] = [];
  private readonly received: number[] = [];
  private readonly attribution: Array<Array<string | null>> = ATTRIBUTION_COLUMNS.map(() => []);
  private readonly provider: string[] = [];
  private readonly model: string[] = [];
  private readonly api: Array<string | null> = [];
  private readonly operation: Array<string | null> = [];
  private readonly buckets: number[][] = TOKEN_BUCKETS.map(() => []);
  private readonly searches: number[] = [];
  private readonly units: Array<string | null> = [];
  private readonly cost: Array<string | null> = [];
  private readonly computed: Array<string | null> = [];
  private readonly costSource: Array<string | null> = [];
  private readonly priceStatus: string[] = [];
  private readonly entry: Array<string | null> = [];
  private readonly note: Array<string | null> = [];
  private readonly batch: number[] = [];
  private readonly serviceTier: Array<string | null> = [];
  private readonly status: string[] = [];
  private readonly errorType: Array<string | null> = [];
  private readonly attempt: number[] = [];
  private readonly latency: number[] = [];
  private readonly ttft: number[] = [];
  private readonly streamed: number[] = [];
  private readonly cacheHit: number[] = [];
  private readonly tagStart: number[] = [];
  private readonly tagCount: number[] = [];
  private readonly tagKeys: string[] = [];
  private readonly tagValues: string[] = [];
  private readonly raw: Array<string | null> = [];
  private readonly contentHash: number[] = [];

  get length(): number {
    return this.n;
  }

  add(p: PreparedEvent, receivedMs: number): this {
    const e = p.event;
    const price = p.price;
    const notes: string[] = price.status === "unpriced" ? [price.reason, ...price.notes] : [...price.notes];
    this.cost.push(moneyText(price.cost, notes));
    this.computed.push(moneyText(price.computedCost, notes));
    this.id.push(e.id);
    this.ts.push(p.timestampMs);
    this.received.push(receivedMs);
    for (let c = 0; c < ATTRIBUTION_COLUMNS.length; c++) {
      (this.attribution[c] as Array<string | null>).push(e[ATTRIBUTION_COLUMNS[c] as (typeof ATTRIBUTION_COLUMNS)[number]] ?? null);
    }
    this.provider.push(e.provider);
    this.model.push(e.model);
    this.api.push(e.api ?? null);
    this.operation.push(e.operation ?? null);
    const b = p.usage.buckets;
    for (let k = 0; k < TOKEN_BUCKETS.length; k++) {
      (this.buckets[k] as number[]).push(b[TOKEN_BUCKETS[k] as (typeof TOKEN_BUCKETS)[number]] ?? Number.NaN);
    }
    const units = p.usage.units;
    this.searches.push(units.web_search_calls || Number.NaN);
    let other: Record<string, number> | null = null;
    for (const k in units) {
      if (k === "web_search_calls") continue;
      other ??= {};
      other[k] = units[k as keyof typeof units] as number;
    }
    this.units.push(other ? JSON.stringify(other) : null);
    this.costSource.push(price.costSource);
    this.priceStatus.push(price.status);
    this.entry.push(price.entry?.id ?? null);
    this.note.push(notes.length > 0 ? notes.join("; ") : null);
    this.batch.push(e.batch ? 1 : 0);
    this.serviceTier.push(e.service_tier ?? null);
    this.status.push(e.status ?? "ok");
    this.errorType.push(e.error_type ?? null);
    this.attempt.push(e.attempt ?? Number.NaN);
    this.latency.push(e.latency_ms ?? Number.NaN);
    this.ttft.push(e.ttft_ms ?? Number.NaN);
    this.streamed.push(flag(e.streamed));
    this.cacheHit.push(flag(e.cache_hit));
    this.tagStart.push(this.tagKeys.length);
    let count = -1;
    if (e.tags) {
      count = 0;
      for (const k in e.tags) {
        this.tagKeys.push(k);
        this.tagValues.push(e.tags[k] as string);
        count++;
      }
      // An empty tag map is stored as no tags.
      if (count === 0) count = -1;
    }
    this.tagCount.push(count);
    const raw = e.raw_usage ? JSON.stringify(e.raw_usage) : null;
    this.raw.push(raw);
    this.contentHash.push(contentHash(e, p.timestampMs, raw));
    this.n++;
    return this;
  }

  build(): LedgerBatch {
    return {
      length: this.n,
      id: this.id,
      ts_ms: Float64Array.from(this.ts),
      received_ms: Float64Array.from(this.received),
      attribution: this.attribution,
      provider: this.provider,
      model: this.model,
      api: this.api,
      operation: this.operation,
      buckets: this.buckets.map((col) => Float64Array.from(col)),
      web_search_calls: Float64Array.from(this.searches),
      units_json: this.units,
      cost_usd: this.cost,
      computed_cost_usd: this.computed,
      cost_source: this.costSource,
      price_status: this.priceStatus,
      rate_card_entry: this.entry,
      price_note: this.note,
      batch: Uint8Array.from(this.batch),
      service_tier: this.serviceTier,
      status: this.status,
      error_type: this.errorType,
      attempt: Float64Array.from(this.attempt),
      latency_ms: Float64Array.from(this.latency),
      ttft_ms: Float64Array.from(this.ttft),
      streamed: Int8Array.from(this.streamed),
      cache_hit: Int8Array.from(this.cacheHit),
      tag_start: Uint32Array.from(this.tagStart),
      tag_count: Int32Array.from(this.tagCount),
      tag_keys: this.tagKeys,
      tag_values: this.tagValues,
      raw_usage_json: this.raw,
      content_hash: Float64Array.from(this.contentHash),
    };
  }
}

/** A batch of prepared events, all received at `receivedMs`. */
export function ledgerBatch(events: readonly PreparedEvent[], receivedMs = Date.now()): LedgerBatch {
  const b = new LedgerBatchBuilder();
  for (const e of events) b.add(e, receivedMs);
  return b.build();
}
