import { describe, expect, it } from "vitest";
import { Decimal } from "../money/decimal.js";
import { budgetState, crossedAlerts, forecastExhaustion, hardCapNano, judgeBudget } from "./budget-decision.js";
import { fallbackNanoUsd, nanoToDecimal, toNanoUsd } from "./budget-money.js";

const usd = (s: string) => toNanoUsd(Decimal.parse(s));
const budget = {
  limit_usd: "10",
  actions: [
    { at_percent: 50, action: "alert" },
    { at_percent: 80, action: "downgrade", model: "gpt-4o-mini" },
    { at_percent: 100, action: "block" },
  ],
} as const;

describe("budget decisions", () => {
  it("rounds a cost up to the next nano-dollar and back", () => {
    expect(toNanoUsd(Decimal.parse("0.000000000001"))).toBe(1n);
    expect(toNanoUsd(Decimal.parse("0.004215"))).toBe(4_215_000n);
    expect(nanoToDecimal(4_215_000n).toString()).toBe("0.004215");
  });

  it("lets a call that ends exactly at the cap through and refuses one a nano-dollar over", () => {
    const cap = { limit_usd: "10", actions: [{ at_percent: 100, action: "block" }] } as const;
    expect(judgeBudget(cap, { spent: usd("9"), reserved: usd("0.5") }, usd("0.5"))).toEqual({ kind: "allow" });
    expect(judgeBudget(cap, { spent: usd("9"), reserved: usd("0.5") }, usd("0.5") + 1n)).toEqual({
      kind: "refuse",
      action: "block",
      at_percent: 100,
    });
  });

  it("downgrades between the soft and the hard cap", () => {
    expect(judgeBudget(budget, { spent: usd("7.9"), reserved: 0n }, usd("0.2"))).toEqual({
      kind: "downgrade",
      model: "gpt-4o-mini",
      at_percent: 80,
    });
  });

  it("raises every threshold with an approved override", () => {
    expect(hardCapNano(budget, usd("5"))).toBe(usd("15"));
    expect(judgeBudget(budget, { spent: usd("10"), reserved: 0n }, usd("1"), usd("5"))).toEqual({ kind: "allow" });
  });

  it("states a scope by the highest threshold reached and lists alert thresholds crossed", () => {
    expect(budgetState(budget, { spent: usd("4"), reserved: 0n })).toBe("ok");
    expect(budgetState(budget, { spent: usd("4"), reserved: usd("1") })).toBe("alerting");
    expect(budgetState(budget, { spent: usd("8"), reserved: 0n })).toBe("downgrading");
    expect(budgetState(budget, { spent: usd("10"), reserved: 0n })).toBe("blocked");
    expect(crossedAlerts(budget, usd("4"), usd("6"))).toEqual([50]);
    expect(crossedAlerts(budget, usd("6"), usd("7"))).toEqual([]);
  });

  it("forecasts when the limit runs out at the burn rate so far", () => {
    const day = { startMs: 0, endMs: 86_400_000 };
    // $2.50 in the first 6 hours of a $10 day: out after 24 hours, at the period's end.
    expect(forecastExhaustion(usd("10"), usd("2.5"), day, 6 * 3_600_000, false)).toBe(24 * 3_600_000);
    expect(forecastExhaustion(usd("10"), 0n, day, 6 * 3_600_000, false)).toBeNull();
  });

  it("charges an unpriced call at the fallback's input and output rates", () => {
    const policy = { mode: "fallback", input_mtok: "10", output_mtok: "30" } as const;
    expect(nanoToDecimal(fallbackNanoUsd(policy, { input_tokens: 1000, cache_read_tokens: 1000, output_tokens: 500 })).toString()).toBe(
      "0.035",
    );
  });
});
