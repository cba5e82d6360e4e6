import type { IssuePath, Result } from "../errors.js";
import type { RateCard, PriceResult } from "../pricing/rate-card.js";
import type { NormalizedUsage } from "../usage/buckets.js";
import { normalizeUsage } from "../usage/normalize-usage.js";
import { type UsageEvent, validateEvent } from "./usage-event.js";

/** An event checked, normalized into buckets and priced: what the ledger stores. */
export interface PreparedEvent {
  readonly event: UsageEvent;
  readonly timestampMs: number;
  readonly usage: NormalizedUsage;
  readonly price: PriceResult;
}

/**
 * Validate → normalize → price, for one event. When both `usage` and `raw_usage` are given
 * the caller's buckets win and the raw object is kept for audit.
 */
export function prepareEvent(value: unknown, card: RateCard, path: IssuePath = []): Result<PreparedEvent> {
  const checked = validateEvent(value, path);
  if (!checked.ok) return checked;
  const event = checked.value;
  let usage: NormalizedUsage;
  if (event.usage !== undefined) {
    usage = { buckets: event.usage, units: event.units ?? {} };
  } else {
    const n = normalizeUsage(event.api as string, event.raw_usage, [...path, "raw_usage"]);
    if (!n.ok) return n;
    usage = { ...n.value, units: { ...n.value.units, ...event.units } };
  }
  const timestampMs = Date.parse(event.timestamp);
  const price = card.price({
    provider: event.provider,
    model: event.model,
    timestamp: timestampMs,
    usage,
    ...(event.batch !== undefined && { batch: event.batch }),
    ...(event.service_tier !== undefined && { serviceTier: event.service_tier }),
    ...(event.cost_usd !== undefined && { callerCost: event.cost_usd }),
    ...(usage.reportedCost !== undefined && { providerCost: usage.reportedCost }),
  });
  return { ok: true, value: { event, timestampMs, usage, price } };
}
