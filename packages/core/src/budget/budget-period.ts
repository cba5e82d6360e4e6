import { localToInstant, offsetAt } from "../time/time-zone.js";
import type { Budget } from "./budget.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A rolling budget's window: a day, a week, or 30 days for a month. */
export const ROLLING_MS = { day: DAY, week: 7 * DAY, month: 30 * DAY } as const;
/** Rolling budgets count spend per hour: the window moves on by whole hours. */
export const ROLLING_BUCKET_MS = HOUR;

/** The budget's period that holds an instant: [startMs, endMs). */
export interface BudgetWindow {
  readonly startMs: number;
  readonly endMs: number;
}

type Timing = Pick<Budget, "period" | "rolling" | "time_zone">;

/**
 * The calendar period (in the budget's zone) holding `ms`, or for a rolling budget the window
 * ending at `ms`. Weeks start on Monday. A rolling window starts at the beginning of the hour
 * its oldest counted spend fell in, so it may count up to an hour more than its length: on the
 * side of refusing, never of overspending.
 */
export function budgetWindow(b: Timing, ms: number): BudgetWindow {
  if (b.rolling) {
    const start = ms - ROLLING_MS[b.period];
    return { startMs: start - (start % ROLLING_BUCKET_MS), endMs: ms };
  }
  const local = new Date(ms + offsetAt(b.time_zone, ms) * 60_000);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const d = local.getUTCDate();
  let startLocal: number;
  let endLocal: number;
  if (b.period === "day") {
    startLocal = Date.UTC(y, m, d);
    endLocal = Date.UTC(y, m, d + 1);
  } else if (b.period === "week") {
    const sinceMonday = (local.getUTCDay() + 6) % 7;
    startLocal = Date.UTC(y, m, d - sinceMonday);
    endLocal = Date.UTC(y, m, d - sinceMonday + 7);
  } else {
    startLocal = Date.UTC(y, m, 1);
    endLocal = Date.UTC(y, m + 1, 1);
  }
  return { startMs: localToInstant(b.time_zone, startLocal), endMs: localToInstant(b.time_zone, endLocal) };
}

/**
 * Which counter bucket spend at `ms` goes to: the start of its calendar period, or for a
 * rolling budget the start of its hour.
 */
export function budgetBucket(b: Timing, ms: number): number {
  return b.rolling ? ms - (ms % ROLLING_BUCKET_MS) : budgetWindow(b, ms).startMs;
}
