import { CosttrailError, Decimal, type QuerySpec, budgetWindow, isTimeZone, nanoToDecimal, toNanoUsd } from "@costtrail/core";
import type { LedgerStore, ReadScope } from "../store/ledger-store.js";

const DAY = 86_400_000;
/** Complete days the month-end forecast learns the daily rate from. */
export const FORECAST_HISTORY_DAYS = 14;
/** The forecast's range is an 80% interval: the normal quantile 1.2816, as a fraction. */
const Z_NUM = 12_816n;
const Z_DEN = 10_000n;

export interface SpendSummary {
  readonly time_zone: string;
  readonly as_of: string;
  readonly today: Period;
  readonly week: Period;
  readonly month: Period;
  /** Spend at month end: month to date plus the recent daily rate over what is left; null with no complete day to learn from. */
  readonly forecast: {
    readonly month_end_usd: string;
    readonly low_usd: string;
    readonly high_usd: string;
    /** The recent daily rate, and how many complete days it was learned from. */
    readonly daily_rate_usd: string;
    readonly history_days: number;
  } | null;
}

interface Period {
  readonly from: string;
  readonly to: string;
  readonly cost_usd: string;
  /** The same stretch of the previous period (yesterday until this time, last week until this point…). */
  readonly previous_cost_usd: string;
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // The float guess is close; settle it exactly.
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

const cents = (nano: bigint) => nanoToDecimal(nano).round(2).toFixed(2);

/**
 * The overview's headline numbers: spend today, this week and this month in the reader's
 * zone, each beside the same stretch of the period before, and a month-end forecast with an
 * 80% range. The forecast assumes the remaining days spend like the last complete ones: the
 * range widens with their day-to-day spread and with how few of them there are.
 */
export async function spendSummary(store: LedgerStore, scope: ReadScope, timeZone: string, now: number): Promise<SpendSummary> {
  if (!isTimeZone(timeZone))
    throw new CosttrailError(
      "CT_INVALID_QUERY",
      `time_zone: must be an IANA time zone such as Europe/Paris, got ${JSON.stringify(timeZone)}`,
      {
        path: ["query", "time_zone"],
      },
    );
  const calendar = (period: "day" | "week" | "month", ms: number) => budgetWindow({ period, rolling: false, time_zone: timeZone }, ms);
  const day = calendar("day", now);
  const week = calendar("week", now);
  const month = calendar("month", now);
  const previousMonth = calendar("month", month.startMs - 1);
  const base = {
    group_by: [],
    grain: null,
    time_zone: timeZone,
    filters: [],
    order_by: [],
    limit: null,
    other: false,
    distribution: null,
    pricing: "recorded",
  } as const;
  const cost = async (from: number, to: number): Promise<bigint> => {
    if (to <= from) return 0n;
    const spec: QuerySpec = { ...base, metrics: ["cost_usd"], from, to };
    const rows = await store.query(spec, scope);
    return toNanoUsd(Decimal.parse(String(rows[0]?.cost_usd ?? "0")));
  };
  const period = async (w: { startMs: number; endMs: number }, previousStart: number): Promise<Period> => {
    const [spent, previous] = await Promise.all([cost(w.startMs, now), cost(previousStart, previousStart + (now - w.startMs))]);
    return {
      from: new Date(w.startMs).toISOString(),
      to: new Date(w.endMs).toISOString(),
      cost_usd: nanoToDecimal(spent).toString(),
      previous_cost_usd: nanoToDecimal(previous).toString(),
    };
  };
  const historyFrom = calendar("day", day.startMs - FORECAST_HISTORY_DAYS * DAY + DAY / 2).startMs;
  const [today, thisWeek, thisMonth, daily] = await Promise.all([
    period(day, calendar("day", day.startMs - 1).startMs),
    period(week, calendar("week", week.startMs - 1).startMs),
    period(month, previousMonth.startMs),
    store.query({ ...base, metrics: ["cost_usd"], grain: "day", from: historyFrom, to: day.startMs }, scope),
  ]);
  // Days before the first one with spend are before the ledger's history, not days of no spend.
  const values = daily.map((r) => toNanoUsd(Decimal.parse(String(r.cost_usd ?? "0"))));
  const firstSpend = values.findIndex((v) => v > 0n);
  let forecast: SpendSummary["forecast"] = null;
  if (firstSpend >= 0) {
    const firstDay = Date.parse(String(daily[firstSpend]?.bucket));
    const n = BigInt(Math.max(1, Math.round((day.startMs - firstDay) / DAY)));
    const total = values.slice(firstSpend).reduce((a, b) => a + b, 0n);
    const mean = total / n;
    // Quiet days inside the history have no row: they count as zero.
    let squares = (n - BigInt(values.length - firstSpend)) * mean * mean;
    for (const v of values.slice(firstSpend)) squares += (v - mean) * (v - mean);
    const variance = n > 1n ? squares / (n - 1n) : mean * mean;
    // What is left of the month, in millionths of a day.
    const leftMicro = BigInt(Math.round(((month.endMs - now) / DAY) * 1e6));
    const expected = toNanoUsd(Decimal.parse(thisMonth.cost_usd)) + (mean * leftMicro) / 1_000_000n;
    // Var(sum of R days) = R·σ² from the days themselves, plus R²·σ²/n from not knowing the mean.
    const spreadSq = (variance * leftMicro) / 1_000_000n + (variance * leftMicro * leftMicro) / (1_000_000n * 1_000_000n * n);
    const half = (isqrt(spreadSq) * Z_NUM) / Z_DEN;
    const floor = toNanoUsd(Decimal.parse(thisMonth.cost_usd));
    forecast = {
      month_end_usd: cents(expected),
      low_usd: cents(expected - half > floor ? expected - half : floor),
      high_usd: cents(expected + half),
      daily_rate_usd: cents(mean),
      history_days: Number(n),
    };
  }
  return { time_zone: timeZone, as_of: new Date(now).toISOString(), today, week: thisWeek, month: thisMonth, forecast };
}
