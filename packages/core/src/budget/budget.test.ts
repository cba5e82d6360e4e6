import { describe, expect, it } from "vitest";
import { validateBudgets } from "./budget.js";

describe("validateBudgets", () => {
  it("reads the simplest budget with its defaults", () => {
    const r = validateBudgets([
      {
        name: "search-daily",
        match: { feature: "search" },
        period: "day",
        limit_usd: "5.00",
        actions: [
          { at_percent: 100, action: "block" },
          { at_percent: 80, action: "alert" },
        ],
      },
    ]);
    expect(r).toEqual({
      ok: true,
      value: [
        {
          name: "search-daily",
          match: { feature: ["search"] },
          each_value_of: null,
          period: "day",
          rolling: false,
          time_zone: "UTC",
          limit_usd: "5",
          actions: [
            { at_percent: 80, action: "alert" },
            { at_percent: 100, action: "block" },
          ],
          unpriced: { mode: "block" },
          cut_streams: false,
        },
      ],
    });
  });

  it("reads a per-customer budget with a downgrade, tags and fallback rates", () => {
    const r = validateBudgets([
      {
        name: "per-customer",
        match: { environment: ["prod", "staging"], "tag.queue": "billing" },
        each_value_of: "customer_id",
        period: "month",
        time_zone: "Europe/Berlin",
        limit_usd: "50",
        actions: [
          { at_percent: 90, action: "downgrade", model: "gpt-4o-mini" },
          { at_percent: 100, action: "require_override" },
        ],
        unpriced: { input_mtok: "10.00", output_mtok: "30" },
      },
    ]);
    expect(r.ok && r.value[0]).toMatchObject({
      match: { environment: ["prod", "staging"], "tag.queue": ["billing"] },
      each_value_of: "customer_id",
      unpriced: { mode: "fallback", input_mtok: "10", output_mtok: "30" },
    });
  });

  it("lists every problem with its path and keeps none of a bad budget", () => {
    const r = validateBudgets([
      {
        name: "bad budget",
        match: { colour: "red", feature: [] },
        each_value_of: "tag.",
        period: "fortnight",
        limit_usd: 5,
        actions: [
          { at_percent: 0, action: "alert" },
          { at_percent: 100, action: "downgrade" },
          { at_percent: 50, action: "explode" },
        ],
        unpriced: "free",
        extra: true,
      },
      { name: "dup", period: "day", limit_usd: "1", actions: [{ at_percent: 100, action: "block" }] },
      { name: "dup", period: "day", limit_usd: "1", actions: [{ at_percent: 100, action: "block" }] },
    ]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toMatchInlineSnapshot(`
      [
        "budgets.0.extra: is not a known field; expected name, match, each_value_of, period, rolling, time_zone, limit_usd, actions, unpriced, cut_streams",
        "budgets.0.name: must be a name of letters, digits, '_', '-' or '.' (at most 128)",
        "budgets.0.match.colour: must be an attribution column (project, environment, team, cost_center, user_id, customer_id, feature, agent_run_id, trace_id, span_id, parent_span_id, prompt_version, experiment_id, variant, api_key_id, provider, model) or tag.<key>, got "colour"",
        "budgets.0.match.feature: must be a non-empty string or a non-empty list of them",
        "budgets.0.each_value_of: must be an attribution column (project, environment, team, cost_center, user_id, customer_id, feature, agent_run_id, trace_id, span_id, parent_span_id, prompt_version, experiment_id, variant, api_key_id, provider, model) or tag.<key>, got "tag."",
        "budgets.0.period: must be one of day, week, month, got "fortnight"",
        "budgets.0.limit_usd: must be the limit in USD as a quoted decimal string such as "5.00" (money is never a binary float), got 5",
        "budgets.0.actions.0.at_percent: must be a percent above 0 and at most 1000, with at most 2 decimals, got 0",
        "budgets.0.actions.1.model: is required for a downgrade: the cheaper model to send the call to",
        "budgets.0.actions.2.action: must be one of alert, block, downgrade, require_override, got "explode"",
        "budgets.0.unpriced: must be "block" or fallback rates { input_mtok: "10.00", output_mtok: "30.00" }, so that an unpriced call never counts as $0",
        "budgets.2.name: duplicates budget "dup"",
      ]
    `);
  });

  it("takes thresholds with two decimals, and refuses a downgrade the cap would never let happen", () => {
    const ok = validateBudgets([
      {
        name: "b",
        period: "day",
        limit_usd: "1",
        actions: [
          { at_percent: 80.01, action: "alert" },
          { at_percent: 1.13, action: "alert" },
        ],
      },
    ]);
    expect(ok.ok && ok.value[0]?.actions.map((a) => a.at_percent)).toEqual([1.13, 80.01]);
    const late = validateBudgets([
      {
        name: "b",
        period: "day",
        limit_usd: "1",
        actions: [
          { at_percent: 90, action: "block" },
          { at_percent: 95, action: "downgrade", model: "gpt-4o-mini" },
        ],
      },
    ]);
    expect(!late.ok && late.issues[0]?.message).toBe("has a downgrade at 95% that never applies: the block at 90% refuses calls first");
  });

  it("refuses two enforcing actions at one threshold", () => {
    const r = validateBudgets([
      {
        name: "b",
        period: "week",
        limit_usd: "1",
        actions: [
          { at_percent: 100, action: "block" },
          { at_percent: 100, action: "require_override" },
        ],
      },
    ]);
    expect(!r.ok && r.issues[0]?.message).toBe(
      "has two enforcing actions at 100% (block and require_override); give each its own threshold",
    );
  });
});
