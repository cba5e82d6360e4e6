import type { BudgetStatus } from "../api/types.js";
import { relative } from "./format.js";

/** The meter's colour: over the limit, close to it or on course to run out, or fine. */
export function budgetTone(b: BudgetStatus): string {
  if (b.percent >= 100) return "bad";
  if (b.percent >= 80 || b.forecast_exhausts_in_period) return "warn";
  return "";
}

/** When the budget runs out at its burn rate so far, in words. */
export function runOutText(b: BudgetStatus): string {
  if (b.percent >= 100) return "At or over its limit";
  if (b.forecast_exhausted_at)
    return `${b.forecast_exhausts_in_period ? "Runs out" : "Would run out"} ${relative(b.forecast_exhausted_at)}`;
  return Number(b.spent_usd) > 0 ? "Not on course to run out" : "No spend yet this period";
}
