import { ATTRIBUTION_COLUMNS, type PreparedEvent } from "@costtrail/core";
import type { LedgerRow } from "../store/ledger-row.js";

/** The store keeps 18 decimal places; a cost with more (a rate with many digits times a discount) is rounded and says so. */
const STORE_SCALE = 18;

function moneyText(d: PreparedEvent["price"]["cost"], notes: string[]): string | null {
  if (d === null) return null;
  if (d.scale <= STORE_SCALE) return d.toString();
  const rounded = d.round(STORE_SCALE);
  if (!rounded.eq(d)) notes.push(`cost ${d.toString()} rounded to ${STORE_SCALE} decimal places for storage`);
  return rounded.toString();
}

export function toLedgerRow(p: PreparedEvent, receivedMs: number): LedgerRow {
  const e = p.event;
  const notes: string[] = p.price.status === "unpriced" ? [p.price.reason, ...p.price.notes] : [...p.price.notes];
  const cost = moneyText(p.price.cost, notes);
  const computed = moneyText(p.price.computedCost, notes);
  const attribution: Record<string, string> = {};
  for (const c of ATTRIBUTION_COLUMNS) {
    const v = e[c];
    if (v !== undefined) attribution[c] = v;
  }
  const units = p.usage.units;
  const searches = units.web_search_calls;
  let otherUnits: Record<string, number> | null = null;
  for (const k in units) {
    if (k === "web_search_calls") continue;
    otherUnits ??= {};
    otherUnits[k] = units[k as keyof typeof units] as number;
  }
  return {
    id: e.id,
    ts_ms: p.timestampMs,
    received_ms: receivedMs,
    attribution,
    provider: e.provider,
    model: e.model,
    api: e.api ?? null,
    operation: e.operation ?? null,
    buckets: p.usage.buckets,
    web_search_calls: searches ?? 0,
    units_json: otherUnits ? JSON.stringify(otherUnits) : null,
    cost_usd: cost,
    computed_cost_usd: computed,
    cost_source: p.price.costSource,
    price_status: p.price.status,
    rate_card_entry: p.price.entry?.id ?? null,
    price_note: notes.length > 0 ? notes.join("; ") : null,
    batch: e.batch ?? false,
    service_tier: e.service_tier ?? null,
    status: e.status ?? "ok",
    error_type: e.error_type ?? null,
    attempt: e.attempt ?? null,
    latency_ms: e.latency_ms ?? null,
    ttft_ms: e.ttft_ms ?? null,
    streamed: e.streamed ?? null,
    cache_hit: e.cache_hit ?? null,
    tags: e.tags && Object.keys(e.tags).length > 0 ? e.tags : null,
    raw_usage_json: e.raw_usage ? JSON.stringify(e.raw_usage) : null,
  };
}
