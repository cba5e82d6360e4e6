import { type Budget, Decimal, type QueryFilter, type QuerySpec, budgetWindow, type Dimension } from "@costtrail/core";
import type { LedgerStore, ReadScope } from "../store/ledger-store.js";

export interface BudgetSeries {
  readonly name: string;
  readonly scope: string | null;
  readonly window: { readonly from: string; readonly to: string };
  readonly limit_usd: string;
  readonly grain: "hour" | "day";
  /** Spend per bucket from the window's start to now, and the running total: the burn-down against the limit. */
  readonly points: ReadonlyArray<{ readonly bucket: string; readonly cost_usd: string; readonly cumulative_usd: string }>;
}

/** The filters that select a budget's calls (one scope of an "each value of" budget). */
export function budgetFilters(b: Budget, scope: string | null): QueryFilter[] {
  const filters: QueryFilter[] = Object.entries(b.match).map(([column, values]) => ({
    column: column as Dimension,
    op: "in" as const,
    value: [...(values as readonly string[])],
  }));
  if (b.each_value_of !== null && scope !== null) filters.push({ column: b.each_value_of as Dimension, op: "eq", value: scope });
  return filters;
}

/**
 * A budget's spend over its current window, as the ledger holds it: per hour for a day's
 * window, per day for longer ones. The counters that checks read may run a little ahead
 * (reservations, unpriced calls counted at a fallback price); this is what was recorded.
 */
export async function budgetSeries(
  store: LedgerStore,
  read: ReadScope,
  b: Budget,
  scope: string | null,
  limitUsd: string,
  now: number,
): Promise<BudgetSeries> {
  const w = budgetWindow(b, now);
  const grain = b.period === "day" ? "hour" : "day";
  const spec: QuerySpec = {
    metrics: ["cost_usd"],
    group_by: [],
    grain,
    time_zone: b.time_zone,
    from: w.startMs,
    to: now + 1,
    filters: budgetFilters(b, scope),
    order_by: [{ key: "bucket", desc: false }],
    limit: null,
    other: false,
    distribution: null,
    pricing: "recorded",
  };
  const rows = await store.query(spec, read);
  let running = Decimal.ZERO;
  const points = rows.map((r) => {
    const cost = Decimal.parse(String(r.cost_usd ?? "0"));
    running = running.add(cost);
    return { bucket: String(r.bucket), cost_usd: cost.toString(), cumulative_usd: running.toString() };
  });
  return {
    name: b.name,
    scope,
    window: { from: new Date(w.startMs).toISOString(), to: new Date(b.rolling ? now : w.endMs).toISOString() },
    limit_usd: limitUsd,
    grain,
    points,
  };
}
