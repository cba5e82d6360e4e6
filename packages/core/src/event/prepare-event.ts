import { type IssuePath, type Result, issue } from "../errors.js";
import { MAX_EVENT_COST_USD, exceedsEventCost } from "../money/event-cost.js";
import type { PriceResult, RateCard } from "../pricing/rate-card.js";
import type { NormalizedUsage } from "../usage/buckets.js";
import { normalizeUsage } from "../usage/normalize-usage.js";
import { type EventCheckOptions, type UsageEvent, checkEvent } from "./usage-event.js";

/** An event checked, normalized into buckets and priced: what the ledger stores. */
export interface PreparedEvent {
  readonly event: UsageEvent;
  readonly timestampMs: number;
  readonly usage: NormalizedUsage;
  readonly price: PriceResult;
}

/**
 * Validate → normalize → price, for one event. When both `usage` and `raw_usage` are given
 * the caller's buckets win and the raw object is kept for audit. `options` sets the window of
 * event times accepted (pass `nowMs` for the future bound).
 */
export function prepareEvent(value: unknown, card: RateCard, path: IssuePath = [], options: EventCheckOptions = {}): Result<PreparedEvent> {
  const checked = checkEvent(value, path, options);
  if (!checked.ok) return checked;
  const { event, timestampMs } = checked.value;
  let usage: NormalizedUsage;
  if (event.usage !== undefined) {
    usage = { buckets: event.usage, units: event.units ?? {} };
  } else {
    const n = normalizeUsage(event.api as string, event.raw_usage, [...path, "raw_usage"]);
    if (!n.ok) return n;
    usage = { ...n.value, units: { ...n.value.units, ...event.units } };
  }
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
  // Counts up to 10^12 per bucket at published rates can price far past any real call.
  if (price.computedCost !== null && exceedsEventCost(price.computedCost)) {
    const field = event.usage !== undefined ? "usage" : "raw_usage";
    return {
      ok: false,
      issues: [
        issue(
          "too_large",
          [...path, field],
          `prices at ${price.computedCost.toString()} USD with ${price.entry?.id ?? "the rate card"}, more than ${MAX_EVENT_COST_USD} USD, the most one event may cost; check the counts`,
        ),
      ],
    };
  }
  return { ok: true, value: { event, timestampMs, usage, price } };
}
