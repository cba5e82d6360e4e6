import { type Budget, Decimal, type PreparedEvent, validateBudgets } from "@costtrail/core";
import { describe, expect, it } from "vitest";
import { BudgetService } from "../budgets/budget-service.js";
import { DEFAULT_ALERT_SETTINGS, checkAlerts } from "../config/alerts-config.js";
import { MemoryCounterStore } from "../counters/memory/memory-counter-store.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { RULE_EVALUATORS } from "./alert-rules.js";

const NOW = Date.parse("2026-12-04T00:00:00Z");

async function forecastFor(spentNano: bigint): ReturnType<(typeof RULE_EVALUATORS)["budget_forecast"]> {
  const parsed = validateBudgets([{ name: "monthly", period: "month", limit_usd: "100", actions: [{ at_percent: 100, action: "block" }] }]);
  const budgets = (parsed.ok ? parsed.value : []) as Budget[];
  const counters = new MemoryCounterStore(() => NOW);
  const service = new BudgetService({
    budgets: () => budgets,
    rateCard: () => {
      throw new Error("not priced here");
    },
    counters,
    reservationTtlMs: () => 60_000,
    onUnavailable: () => "allow",
    log: () => undefined,
    now: () => NOW,
  });
  await service.sync({ query: async () => [] } as unknown as LedgerStore);
  // One event of the month so far, as the ledger would report it after an append.
  const event = {
    event: { id: "evt_1", provider: "openai", model: "gpt-4o", tags: {} },
    timestampMs: Date.parse("2026-12-02T00:00:00Z"),
    usage: { buckets: {}, units: {} },
    price: { status: "priced", cost: Decimal.of(spentNano, 9) },
  } as unknown as PreparedEvent;
  await service.observe([event], { inserted: 1, duplicates: [], conflicts: [] });
  const issues: never[] = [];
  const settings = checkAlerts(
    {
      destinations: [{ name: "h", type: "webhook", url: "http://127.0.0.1:9/", secret_env: "S" }],
      rules: [{ name: "f", type: "budget_forecast", destinations: ["h"] }],
    },
    issues,
  );
  expect(issues).toEqual([]);
  service.close();
  return RULE_EVALUATORS.budget_forecast(settings.rules[0] ?? DEFAULT_ALERT_SETTINGS.rules[0]!, {
    store: {} as LedgerStore,
    budgets: service,
    runs: undefined,
    nowMs: NOW,
    dashboard: "https://costtrail.example.com",
  });
}

describe("the budget forecast rule", () => {
  it("alerts when the burn rate so far runs the limit out before the month ends", async () => {
    // $30 in the first 3 days of December: $100 is gone after 10 days.
    const [alert] = await forecastFor(30_000_000_000n);
    expect(alert).toMatchObject({
      key: "forecast:monthly::2026-12-01T00:00:00.000Z",
      title: "Budget monthly is forecast to run out at 2026-12-11T00:00:00.000Z, before its period ends at 2027-01-01T00:00:00.000Z",
      amounts: { spent_usd: "30", limit_usd: "100", forecast_exhausted_at: "2026-12-11T00:00:00.000Z" },
    });
  });

  it("stays quiet when the limit lasts past the month", async () => {
    // $5 in 3 days lasts 60 days.
    expect(await forecastFor(5_000_000_000n)).toEqual([]);
  });
});

describe("the spend spike rule", () => {
  const HOUR = 3_600_000;
  const now = Date.parse("2026-12-04T12:30:00Z");
  /** Hourly rows of two series over a week: `a` jumps in the current hour, `b` stays as it was. */
  function rows(current: string) {
    const out: Array<Record<string, string | number | null>> = [];
    for (let h = 1; h <= 7 * 24; h++) {
      const bucket = new Date(now - (now % HOUR) - h * HOUR).toISOString();
      out.push({ feature: "a", bucket, cost_usd: h % 2 ? "0.10" : "0.12" });
      out.push({ feature: "b", bucket, cost_usd: "0.50" });
    }
    const bucket = new Date(now - (now % HOUR)).toISOString();
    out.push({ feature: "a", bucket, cost_usd: current }, { feature: "b", bucket, cost_usd: "0.50" });
    return out;
  }
  async function spikes(current: string, method: "ratio" | "zscore") {
    const issues: never[] = [];
    const settings = checkAlerts(
      {
        destinations: [{ name: "h", type: "webhook", url: "http://127.0.0.1:9/", secret_env: "S" }],
        rules: [{ name: "s", type: "spend_spike", destinations: ["h"], group_by: ["feature"], method, min_usd: "0.2" }],
      },
      issues,
    );
    const store = {
      query: async () => rows(current),
      listEvents: async () => ({ events: [{ id: "e1", trace_id: "t1" }], next_cursor: null }),
    };
    return RULE_EVALUATORS.spend_spike(settings.rules[0] as (typeof settings.rules)[number], {
      store: store as unknown as LedgerStore,
      budgets: {} as BudgetService,
      runs: undefined,
      nowMs: now,
      dashboard: "https://costtrail.example.com",
    });
  }

  it("finds the series whose window stands out by a robust z-score, and not the steady one", async () => {
    const found = await spikes("0.40", "zscore");
    expect(found.map((c) => c.scope)).toEqual([{ feature: "a" }]);
    expect(found[0]?.title).toContain("robust z-score");
    expect(found[0]?.trace_ids).toEqual(["t1"]);
  });

  it("compares the window with the baseline's average window by ratio, exactly", async () => {
    const [spike] = await spikes("0.40", "ratio");
    // The week averages $0.11 an hour: $0.40 is 3.64× that.
    expect(spike?.amounts).toMatchObject({ window_usd: "0.4", baseline_average_usd: "0.11", baseline_total_usd: "18.48" });
    expect(await spikes("0.15", "ratio")).toEqual([]);
  });
});
