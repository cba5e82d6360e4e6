import { Decimal } from "../money/decimal.js";
import type { Budget, BudgetAction } from "./budget.js";
import { toNanoUsd } from "./budget-money.js";
import type { BudgetWindow } from "./budget-period.js";

/** A scope's counter in a period, in nano-dollars: spend recorded, and estimates reserved by calls in flight. */
export interface BudgetLevel {
  readonly spent: bigint;
  readonly reserved: bigint;
}

export type BudgetVerdict =
  | { readonly kind: "allow" }
  /** Go on with the cheaper model, if its estimate still fits under the hard cap. */
  | { readonly kind: "downgrade"; readonly model: string; readonly at_percent: number }
  | { readonly kind: "refuse"; readonly action: "block" | "require_override"; readonly at_percent: number };

export type BudgetState = "ok" | "alerting" | "downgrading" | "blocked";

/** Parsed limits: a check judges every budget a call falls in, and limits are few. */
const LIMITS = new Map<string, bigint>();

/** The limit in nano-dollars, raised by any approved override in force. */
export function limitNano(b: Pick<Budget, "limit_usd">, overrideNano = 0n): bigint {
  let nano = LIMITS.get(b.limit_usd);
  if (nano === undefined) {
    if (LIMITS.size > 10_000) LIMITS.clear();
    nano = toNanoUsd(Decimal.parse(b.limit_usd));
    LIMITS.set(b.limit_usd, nano);
  }
  return nano + overrideNano;
}

/** An action's threshold in nano-dollars, rounded down: a cap is reached no later than it says. */
export function thresholdNano(limit: bigint, atPercent: number): bigint {
  return (limit * BigInt(Math.round(atPercent * 100))) / 10_000n;
}

function enforcing(b: Pick<Budget, "actions">): BudgetAction[] {
  return b.actions.filter((a) => a.action !== "alert");
}

/**
 * The hard cap: the lowest threshold that refuses (block or require_override). Reservations
 * are only taken while spent + reserved + estimate stays at or under it, which is what bounds
 * concurrent calls' overshoot. Null when the budget only alerts and downgrades.
 */
export function hardCapNano(b: Pick<Budget, "actions" | "limit_usd">, overrideNano = 0n): bigint | null {
  const cap = enforcing(b).find((a) => a.action === "block" || a.action === "require_override");
  return cap ? thresholdNano(limitNano(b, overrideNano), cap.at_percent) : null;
}

/**
 * What a call estimated at `estimate` may do: the highest enforcing threshold that spend,
 * reservations and this estimate together would pass decides. A call that ends exactly at a
 * threshold still fits.
 */
export function judgeBudget(
  b: Pick<Budget, "actions" | "limit_usd">,
  level: BudgetLevel,
  estimate: bigint,
  overrideNano = 0n,
): BudgetVerdict {
  const limit = limitNano(b, overrideNano);
  const projected = level.spent + level.reserved + estimate;
  const actions = enforcing(b);
  for (let i = actions.length - 1; i >= 0; i--) {
    const a = actions[i] as BudgetAction;
    if (projected <= thresholdNano(limit, a.at_percent)) continue;
    if (a.action === "downgrade") return { kind: "downgrade", model: a.model as string, at_percent: a.at_percent };
    return { kind: "refuse", action: a.action as "block" | "require_override", at_percent: a.at_percent };
  }
  return { kind: "allow" };
}

/** Spend (and reservations) as a percent of the limit, to two decimals; for display only. */
export function percentOfLimit(used: bigint, limit: bigint): number {
  if (limit <= 0n) return 0;
  return Number((used * 10_000n) / limit) / 100;
}

/** Where a scope stands now: the highest threshold its spend and reservations have reached. */
export function budgetState(b: Pick<Budget, "actions" | "limit_usd">, level: BudgetLevel, overrideNano = 0n): BudgetState {
  const limit = limitNano(b, overrideNano);
  const used = level.spent + level.reserved;
  let state: BudgetState = "ok";
  for (const a of b.actions) {
    if (used < thresholdNano(limit, a.at_percent)) break;
    if (a.action === "block" || a.action === "require_override") return "blocked";
    state = a.action === "downgrade" ? "downgrading" : state === "ok" ? "alerting" : state;
  }
  return state;
}

/** The alert thresholds (percents) that spend going from `before` to `after` passed. */
export function crossedAlerts(b: Pick<Budget, "actions" | "limit_usd">, before: bigint, after: bigint, overrideNano = 0n): number[] {
  const limit = limitNano(b, overrideNano);
  return b.actions
    .filter((a) => a.action === "alert")
    .filter((a) => before < thresholdNano(limit, a.at_percent) && after >= thresholdNano(limit, a.at_percent))
    .map((a) => a.at_percent);
}

/**
 * When the limit runs out at the burn rate so far (spend over the period's elapsed time). Null
 * while nothing is spent, and for a rolling window under its limit: at a steady rate its spend
 * stays where it is, as old spend leaves the window as fast as new spend comes in.
 */
export function forecastExhaustion(limit: bigint, spent: bigint, window: BudgetWindow, nowMs: number, rolling: boolean): number | null {
  if (spent <= 0n) return null;
  if (spent >= limit) return nowMs;
  if (rolling) return null;
  const elapsed = Math.max(1, nowMs - window.startMs);
  const msLeft = ((limit - spent) * BigInt(Math.round(elapsed))) / spent;
  return nowMs + Number(msLeft);
}
