import { Decimal, type Dimension, type QueryFilter, type QuerySpec, percentOfLimit, thresholdNano, toNanoUsd } from "@costtrail/core";
import type { AgentRunTracker } from "../budgets/agent-run-tracker.js";
import type { BudgetService } from "../budgets/budget-service.js";
import type { AlertRule, Severity } from "../config/alerts-config.js";
import type { LedgerStore } from "../store/ledger-store.js";
import type { AlertCondition } from "./alert.js";

export interface RuleContext {
  readonly store: LedgerStore;
  readonly budgets: BudgetService;
  readonly runs: AgentRunTracker | undefined;
  readonly nowMs: number;
  /** The dashboard's address, for links. */
  readonly dashboard: string;
}

const HOUR = 3_600_000;
const ALL = { projects: null };

function query(spec: Partial<QuerySpec> & Pick<QuerySpec, "metrics" | "from" | "to">): QuerySpec {
  return {
    group_by: [],
    grain: null,
    time_zone: "UTC",
    filters: [],
    order_by: [],
    limit: null,
    other: false,
    distribution: null,
    pricing: "current",
    ...spec,
  };
}

function usd(d: Decimal): string {
  return d.toString();
}

/** d / n to `dp` decimals (money per window or per request), exact up to the last place. */
function divide(d: Decimal, n: number, dp: number): Decimal {
  const scale = Math.max(d.scale, dp);
  return Decimal.of(d.rescale(scale).coef / BigInt(n), scale)
    .round(dp)
    .normalize();
}

/** The dashboard's explorer, filtered to a scope over a time range. */
function explorerLink(ctx: RuleContext, filters: Record<string, string | null>, fromMs: number, toMs: number): string {
  const q = new URLSearchParams({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
  for (const [k, v] of Object.entries(filters)) if (v !== null) q.set(k, v);
  return `${ctx.dashboard}/explore?${q}`;
}

/** Up to three trace ids (else event ids) of the scope's recent events: where to start looking. */
async function sampleTraces(ctx: RuleContext, filters: QueryFilter[], fromMs: number): Promise<string[]> {
  const page = await ctx.store.listEvents({ from: fromMs, to: ctx.nowMs + 1, filters, limit: 50 }, null, ALL);
  const out = new Set<string>();
  for (const e of page.events) {
    out.add(String(e.trace_id ?? e.id));
    if (out.size === 3) break;
  }
  return [...out];
}

function eqFilters(scope: Record<string, string | null>): QueryFilter[] {
  return Object.entries(scope).map(([column, value]) =>
    value === null ? { column: column as Dimension, op: "not_exists" } : { column: column as Dimension, op: "eq", value },
  );
}

/**
 * Budget scopes whose spend has reached one of their thresholds: one alert per scope and
 * period (for a rolling budget, per scope), raised (not re-opened) when a higher threshold is
 * reached. Spend only: money reserved by calls in flight would open and close alerts with every
 * call near a threshold.
 */
async function budgetThresholds(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  const out: AlertCondition[] = [];
  for (const s of await ctx.budgets.status((b) => rule.budgets === null || rule.budgets.includes(b.name))) {
    const budget = ctx.budgets.budget(s.name);
    if (!budget) continue;
    const spent = toNanoUsd(Decimal.parse(s.spent_usd));
    const limit = toNanoUsd(Decimal.parse(s.limit_usd));
    const top = budget.actions.filter((a) => spent >= thresholdNano(limit, a.at_percent)).at(-1);
    if (!top) continue;
    const percent = percentOfLimit(spent, limit);
    const capped = top.action === "block" || top.action === "require_override";
    const severity: Severity = rule.severity ?? (capped ? "critical" : "warning");
    const filters: Record<string, string | null> = Object.fromEntries(Object.entries(budget.match).map(([k, v]) => [k, v[0] ?? null]));
    if (budget.each_value_of && s.scope !== null) filters[budget.each_value_of] = s.scope;
    out.push({
      key: `budget:${s.name}:${s.scope ?? ""}:${budget.rolling ? "rolling" : s.window.from}`,
      rank: top.at_percent,
      rule: rule.name,
      type: rule.type,
      severity,
      title: `Budget ${s.name}${s.scope === null ? "" : ` (${budget.each_value_of} ${s.scope})`} at ${percent}% of $${s.limit_usd}: $${s.spent_usd} spent${top.action === "alert" ? "" : `, ${top.action} in force`}`,
      scope: { budget: s.name, ...(budget.each_value_of && { [budget.each_value_of]: s.scope }), ...filters },
      amounts: { spent_usd: s.spent_usd, reserved_usd: s.reserved_usd, limit_usd: s.limit_usd, percent, threshold_percent: top.at_percent },
      trace_ids: await sampleTraces(ctx, eqFilters(filters), Date.parse(s.window.from)),
      link: explorerLink(ctx, filters, Date.parse(s.window.from), ctx.nowMs),
    });
  }
  return out;
}

/** Budget scopes forecast to run out before their period ends, at the burn rate so far. */
async function budgetForecasts(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  const out: AlertCondition[] = [];
  for (const s of await ctx.budgets.status((b) => rule.budgets === null || rule.budgets.includes(b.name))) {
    if (!s.forecast_exhausts_in_period || s.state === "blocked") continue;
    const budget = ctx.budgets.budget(s.name);
    const filters: Record<string, string | null> = Object.fromEntries(
      Object.entries(budget?.match ?? {}).map(([k, v]) => [k, v[0] ?? null]),
    );
    if (budget?.each_value_of && s.scope !== null) filters[budget.each_value_of] = s.scope;
    out.push({
      key: `forecast:${s.name}:${s.scope ?? ""}:${s.window.from}`,
      rule: rule.name,
      type: rule.type,
      severity: rule.severity ?? "warning",
      title: `Budget ${s.name}${s.scope === null ? "" : ` (${s.scope})`} is forecast to run out at ${s.forecast_exhausted_at}, before its period ends at ${s.window.to}`,
      scope: { budget: s.name, ...filters },
      amounts: {
        spent_usd: s.spent_usd,
        limit_usd: s.limit_usd,
        percent: s.percent,
        forecast_exhausted_at: s.forecast_exhausted_at as string,
      },
      trace_ids: [],
      link: explorerLink(ctx, filters, Date.parse(s.window.from), ctx.nowMs),
    });
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Series whose spend in the last window stands out from the windows of the baseline before it:
 * above `factor` × their average (ratio), or a robust z-score (0.6745 × (x − median) / MAD)
 * above `z`. Windows end now; the current hour counts as far as it has gone. Amounts are
 * compared exactly; the score itself is a ratio, not money.
 */
async function spendSpikes(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  const hours = rule.window_ms / HOUR;
  const currentHour = ctx.nowMs - (ctx.nowMs % HOUR);
  const windowStart = currentHour - (hours - 1) * HOUR;
  const baselineStart = windowStart - rule.baseline_days * 86_400_000;
  const rows = await ctx.store.query(
    query({ metrics: ["cost_usd"], group_by: rule.group_by, grain: "hour", from: baselineStart, to: ctx.nowMs + 1 }),
    ALL,
  );
  const windows = Math.floor((windowStart - baselineStart) / rule.window_ms);
  const series = new Map<string, { scope: Record<string, string | null>; current: Decimal; baseline: Decimal[] }>();
  for (const r of rows) {
    const scope = Object.fromEntries(rule.group_by.map((d) => [d, r[d] === null || r[d] === undefined ? null : String(r[d])]));
    const key = JSON.stringify(rule.group_by.map((d) => scope[d]));
    let s = series.get(key);
    if (!s) series.set(key, (s = { scope, current: Decimal.ZERO, baseline: Array.from({ length: windows }, () => Decimal.ZERO) }));
    const at = Date.parse(String(r.bucket));
    const cost = r.cost_usd === null ? Decimal.ZERO : Decimal.parse(String(r.cost_usd));
    if (at >= windowStart) s.current = s.current.add(cost);
    else {
      const w = Math.floor((at - baselineStart) / rule.window_ms);
      if (w >= 0 && w < windows) s.baseline[w] = (s.baseline[w] as Decimal).add(cost);
    }
  }
  const min = Decimal.parse(rule.min_usd);
  const out: AlertCondition[] = [];
  for (const [key, s] of series) {
    if (s.current.cmp(min) < 0) continue;
    const total = Decimal.sum(s.baseline);
    // The average window, exactly: total / windows, kept as a decimal with 9 places.
    const average = windows > 0 ? divide(total, windows, 9) : Decimal.ZERO;
    let fires: boolean;
    let score: string;
    if (rule.method === "ratio") {
      fires = s.current.cmp(average.mul(Decimal.parse(String(rule.factor)))) > 0;
      score = average.isZero()
        ? "new spend"
        : `${(Number(s.current.toString()) / Number(average.toString())).toFixed(2)}× the average window`;
    } else {
      const xs = s.baseline.map((d) => Number(d.toString()));
      const med = median(xs);
      const mad = median(xs.map((x) => Math.abs(x - med)));
      const x = Number(s.current.toString());
      const z = mad === 0 ? (x > med ? Number.POSITIVE_INFINITY : 0) : (0.6745 * (x - med)) / mad;
      fires = z > rule.z;
      score = Number.isFinite(z) ? `robust z-score ${z.toFixed(1)}` : "no variation in the baseline";
    }
    if (!fires) continue;
    const label = rule.group_by.map((d) => `${d} ${s.scope[d] ?? "(none)"}`).join(", ");
    out.push({
      key: `spike:${rule.name}:${key}`,
      rule: rule.name,
      type: rule.type,
      severity: rule.severity ?? "error",
      title: `Spend spike for ${label}: $${usd(s.current)} in the last ${hours}h against $${usd(average)} per ${hours}h over the ${rule.baseline_days} days before (${score})`,
      scope: s.scope,
      amounts: { window_usd: usd(s.current), baseline_average_usd: usd(average), baseline_total_usd: usd(total), window_hours: hours },
      trace_ids: await sampleTraces(ctx, eqFilters(s.scope), windowStart),
      link: explorerLink(ctx, s.scope, baselineStart, ctx.nowMs),
    });
  }
  return out;
}

/**
 * A feature whose newest prompt version costs more per request than the version before it:
 * the newest is the one first seen most recently, judged once it has `min_requests`.
 */
async function costPerRequestChanges(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  const from = ctx.nowMs - rule.baseline_days * 86_400_000;
  const rows = await ctx.store.query(
    query({
      metrics: ["cost_usd", "requests"],
      group_by: ["feature", "prompt_version"],
      grain: "hour",
      from,
      to: ctx.nowMs + 1,
      filters: [{ column: "prompt_version", op: "exists" }],
    }),
    ALL,
  );
  type Version = { version: string; first: number; cost: Decimal; requests: number };
  const features = new Map<string, Map<string, Version>>();
  for (const r of rows) {
    if (r.feature === null || r.prompt_version === null) continue;
    const f = String(r.feature);
    const v = String(r.prompt_version);
    let versions = features.get(f);
    if (!versions) features.set(f, (versions = new Map()));
    const at = Date.parse(String(r.bucket));
    const cur = versions.get(v) ?? { version: v, first: at, cost: Decimal.ZERO, requests: 0 };
    versions.set(v, {
      version: v,
      first: Math.min(cur.first, at),
      cost: r.cost_usd === null ? cur.cost : cur.cost.add(Decimal.parse(String(r.cost_usd))),
      requests: cur.requests + Number(r.requests ?? 0),
    });
  }
  const out: AlertCondition[] = [];
  for (const [feature, versions] of features) {
    const byFirst = [...versions.values()].sort((a, b) => a.first - b.first);
    const newest = byFirst.at(-1);
    const previous = byFirst.at(-2);
    if (!newest || !previous || newest.requests < rule.min_requests || previous.requests === 0) continue;
    // Compare cost per request without dividing: new × prev_requests against prev × new_requests × factor.
    const lhs = newest.cost.mulInt(previous.requests);
    const rhs = previous.cost.mulInt(newest.requests).mul(Decimal.parse(String(rule.factor)));
    if (lhs.cmp(rhs) <= 0) continue;
    const per = (v: Version) => divide(v.cost, v.requests, 12);
    out.push({
      key: `cpr:${rule.name}:${feature}:${previous.version}->${newest.version}`,
      rule: rule.name,
      type: rule.type,
      severity: rule.severity ?? "warning",
      title: `Cost per request of ${feature} rose from $${usd(per(previous))} (${previous.version}) to $${usd(per(newest))} (${newest.version})`,
      scope: { feature, prompt_version: newest.version, previous_prompt_version: previous.version },
      amounts: {
        cost_per_request_before_usd: usd(per(previous)),
        cost_per_request_after_usd: usd(per(newest)),
        requests_before: previous.requests,
        requests_after: newest.requests,
      },
      trace_ids: await sampleTraces(ctx, eqFilters({ feature, prompt_version: newest.version }), newest.first),
      link: explorerLink(ctx, { feature }, from, ctx.nowMs),
    });
  }
  return out;
}

/** Models seen without a price in the last day (or the rule's window): their calls count as $0 in reports until priced. */
async function unpricedModels(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  const from = ctx.nowMs - Math.max(rule.window_ms, 86_400_000);
  const models = await ctx.store.modelUsage({ from, to: ctx.nowMs + 1 }, ALL);
  const out: AlertCondition[] = [];
  for (const m of models) {
    if (m.unpriced_requests === 0) continue;
    const tokens = Object.values(m.unpriced_buckets).reduce((a, b) => a + (b ?? 0), 0);
    out.push({
      key: `unpriced:${m.provider}:${m.model}`,
      rule: rule.name,
      type: rule.type,
      severity: rule.severity ?? "warning",
      title: `Model ${m.model} of ${m.provider} has no price: ${m.unpriced_requests} requests (${tokens} tokens) since ${new Date(m.first_seen_ms).toISOString()}`,
      scope: { provider: m.provider, model: m.model },
      amounts: { unpriced_requests: m.unpriced_requests, unpriced_tokens: tokens },
      trace_ids: await sampleTraces(
        ctx,
        [...eqFilters({ provider: m.provider, model: m.model }), { column: "price_status", op: "eq", value: "unpriced" }],
        from,
      ),
      link: `${ctx.dashboard}/prices?provider=${encodeURIComponent(m.provider)}&model=${encodeURIComponent(m.model)}`,
    });
  }
  return out;
}

/** Agent runs stopped at a ceiling in the last hour. */
async function runCeilings(rule: AlertRule, ctx: RuleContext): Promise<AlertCondition[]> {
  return (ctx.runs?.stoppedRuns() ?? [])
    .filter((r) => r.stopped !== null && Date.parse(r.stopped.at) > ctx.nowMs - HOUR)
    .map((r) => ({
      key: `run:${r.agent_run_id}`,
      rule: rule.name,
      type: rule.type,
      severity: rule.severity ?? "error",
      title: `Agent run ${r.agent_run_id} of ${r.agent} stopped at its ceiling: ${r.stopped?.ceiling} is ${r.stopped?.max}, the run reached ${r.stopped?.used}`,
      scope: { agent: r.agent, agent_run_id: r.agent_run_id },
      amounts: { cost_usd: r.cost_usd, llm_calls: r.llm_calls, tool_calls: r.tool_calls, tokens: r.tokens, retries: r.retries },
      trace_ids: [],
      link: `${ctx.dashboard}/runs/${encodeURIComponent(r.agent_run_id)}`,
    }));
}

export const RULE_EVALUATORS: Record<AlertRule["type"], (rule: AlertRule, ctx: RuleContext) => Promise<AlertCondition[]>> = {
  budget_threshold: budgetThresholds,
  budget_forecast: budgetForecasts,
  spend_spike: spendSpikes,
  cost_per_request_change: costPerRequestChanges,
  unpriced_model: unpricedModels,
  agent_run_ceiling: runCeilings,
};
