import type { IssueCode } from "../errors.js";
import { Decimal } from "./decimal.js";

/**
 * The most one event may cost, in USD, inclusive. No single billable call comes near it; a
 * larger figure is a unit mix-up (micro-dollars sent as dollars, a token count sent as a
 * cost), and stored it would overflow the ledger's money sums on every later read.
 */
export const MAX_EVENT_COST_USD = "1000000";

/** Decimal places a stated cost may have: a picodollar, finer than any provider bills. */
export const MAX_COST_DECIMALS = 12;

const MAX_COST = Decimal.parse(MAX_EVENT_COST_USD);

/** True when a cost is more than one event may cost. */
export function exceedsEventCost(cost: Decimal): boolean {
  return cost.cmp(MAX_COST) > 0;
}

/**
 * What is wrong with a cost someone stated (the caller's `cost_usd`, a provider's reported
 * cost) as decimal text, or null. `shown` is the value as it was sent, for the message.
 */
export function statedCostProblem(text: string, shown: string): { code: IssueCode; message: string } | null {
  // Text beyond Decimal's range (1e+300, 1e-300) is beyond the bounds too; its size says which.
  const cost = Decimal.tryParse(text);
  if (cost === null ? Number(text) > 1 : exceedsEventCost(cost)) {
    return { code: "too_large", message: `must be at most ${MAX_EVENT_COST_USD} USD, the most one event may cost; got ${shown}` };
  }
  if (cost === null || cost.normalize().scale > MAX_COST_DECIMALS) {
    return { code: "invalid_format", message: `must have at most ${MAX_COST_DECIMALS} decimal places, got ${shown}` };
  }
  return null;
}
