import { createHash } from "node:crypto";
import {
  type Budget,
  type BudgetState,
  type BudgetSubject,
  type BudgetWindow,
  Decimal,
  type PreparedEvent,
  type RateCard,
  TOKEN_BUCKETS,
  type TokenBucket,
  budgetBucket,
  budgetScope,
  budgetState,
  budgetWindow,
  fallbackNanoUsd,
  forecastExhaustion,
  hardCapNano,
  judgeBudget,
  limitNano,
  nanoToDecimal,
  percentOfLimit,
  toNanoUsd,
} from "@costtrail/core";
import type { FastifyBaseLogger } from "fastify";
import type { CounterRef, CounterStore, ReserveLine, SpendEntry } from "../counters/counter-store.js";
import type { AppendResult, LedgerStore, QueryRow } from "../store/ledger-store.js";
import { type AgentRunTracker, RUN_TAGS } from "./agent-run-tracker.js";

/** A call about to be made, as a budget check sees it. */
export interface BudgetCheckRequest {
  /** The id its usage event will carry: the reservation is settled when that event arrives. */
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly subject: BudgetSubject;
  readonly inputTokens: number;
  readonly maxOutputTokens: number;
  /** 1 for a first attempt; retries count against an agent run's max_retries. */
  readonly attempt?: number;
}

export type BudgetCheckResult =
  | {
      readonly action: "allow";
      /** The model to call: the one asked for, or a downgrade's cheaper one. */
      readonly model: string;
      readonly downgraded_by: string | null;
      /** Budgets the call falls in; a reservation is held in each until its event arrives. */
      readonly budgets: readonly string[];
      readonly reserved_usd: string | null;
      /**
       * With a cut_streams budget: the output tokens a streamed answer may reach before it is
       * cut off, so that its running cost stays inside the budget's room.
       */
      readonly max_output_tokens?: number;
      readonly limited_by?: string;
    }
  | {
      readonly action: "refuse";
      readonly budget: string;
      readonly reason: "block" | "require_override" | "unpriced" | "counters_unavailable" | "agent_run_ceiling";
      readonly message: string;
    };

export interface BudgetStatus {
  readonly name: string;
  /** The value of `each_value_of` this row is for; null for a budget with one scope. */
  readonly scope: string | null;
  readonly period: Budget["period"];
  readonly rolling: boolean;
  readonly time_zone: string;
  readonly window: { readonly from: string; readonly to: string };
  /** The configured limit plus approved overrides in force. */
  readonly limit_usd: string;
  /** What approved overrides add now. */
  readonly override_usd: string;
  readonly spent_usd: string;
  readonly reserved_usd: string;
  readonly percent: number;
  readonly state: BudgetState;
  /** When the limit runs out at the burn rate so far; null while nothing is spent. */
  readonly forecast_exhausted_at: string | null;
  /** True when that falls before the period ends. */
  readonly forecast_exhausts_in_period: boolean;
}

export interface BudgetServiceOptions {
  readonly budgets: () => readonly Budget[];
  readonly rateCard: () => RateCard;
  readonly counters: CounterStore;
  readonly reservationTtlMs: () => number;
  /** What a check answers while the counters cannot be reached. */
  readonly onUnavailable: () => "allow" | "refuse";
  /** The server's logger (it exists only once the app is built). */
  readonly log: () => FastifyBaseLogger | undefined;
  readonly now?: () => number;
  /** Agent-run ceilings; without it no run is tallied. */
  readonly runs?: AgentRunTracker;
  /** Nano-dollars an approved override adds to a scope's limit now. */
  readonly override?: (budget: string, scope: string, nowMs: number) => bigint;
}

const SEP = "\u001f";

/**
 * Which spend a budget counts is fixed by its match, scope, period and unpriced rule; its
 * counters are keyed by those, so changing only a limit or an action keeps them, and a
 * changed definition starts fresh counters, seeded from the ledger.
 */
function counterPrefix(b: Budget): string {
  const defining = JSON.stringify([b.match, b.each_value_of, b.period, b.rolling, b.time_zone, b.unpriced]);
  return `${b.name}#${createHash("sha256").update(defining).digest("hex").slice(0, 12)}`;
}

function subjectOf(e: PreparedEvent): BudgetSubject {
  return { columns: e.event as unknown as Record<string, string | undefined>, tags: e.event.tags ?? {} };
}

/**
 * Budgets over the ledger: checks calls before they are made (reserving their estimate),
 * counts every event the ledger takes in, and reports each scope's standing.
 */
export class BudgetService {
  private readonly now: () => number;
  private prefixes = new Map<string, string>();
  private seeding: Promise<void> = Promise.resolve();
  /** Prefixes of budgets whose counters are still being read from the ledger: their checks wait. */
  private readonly unseeded = new Set<string>();
  /** Each calendar budget's current period; a reload's new budget objects start afresh. */
  private readonly windows = new WeakMap<Budget, BudgetWindow>();
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(private readonly opts: BudgetServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.pruneTimer = setInterval(() => void this.prune(), 3_600_000);
    this.pruneTimer.unref();
  }

  /** Whether any budget or agent-run ceiling is configured: without one, calls are not checked at all. */
  active(): boolean {
    return this.opts.budgets().length > 0 || this.opts.runs?.hasCeilings() === true;
  }

  /** The budget of this name in the configuration in force. */
  budget(name: string): Budget | undefined {
    return this.opts.budgets().find((b) => b.name === name);
  }

  /** The agent-run tally, when ceilings are tracked. */
  get runs(): AgentRunTracker | undefined {
    return this.opts.runs;
  }

  get counters(): CounterStore {
    return this.opts.counters;
  }

  private key(b: Budget, scope: string): string {
    return `${this.prefixes.get(b.name) ?? counterPrefix(b)}${SEP}${scope}`;
  }

  private ref(b: Budget, scope: string, nowMs: number): CounterRef {
    const w = this.window(b, nowMs);
    // A calendar period's spend sits in one bucket, its start; a rolling window's in its hours.
    return { key: this.key(b, scope), fromMs: w.startMs, toMs: b.rolling ? w.endMs + 1 : w.startMs + 1 };
  }

  private overrideNano(b: Budget, scope: string, nowMs: number): bigint {
    return this.opts.override?.(b.name, scope, nowMs) ?? 0n;
  }

  /**
   * Seeds the counters of budgets whose definition is new (all of them at start) from the
   * ledger, and retires the counters of definitions no longer in force. At start this runs
   * before the server listens, so nothing is counted twice. Of several processes sharing the
   * counters, the first to claim a definition seeds it; the others leave it be.
   */
  sync(store: LedgerStore): Promise<void> {
    const fresh: Array<{ budget: Budget; prefix: string }> = [];
    const next = new Map<string, string>();
    const retired = new Set(this.prefixes.values());
    for (const b of this.opts.budgets()) {
      const prefix = counterPrefix(b);
      next.set(b.name, prefix);
      retired.delete(prefix);
      if (this.prefixes.get(b.name) !== prefix) fresh.push({ budget: b, prefix });
    }
    this.prefixes = next;
    for (const f of fresh) this.unseeded.add(f.prefix);
    this.seeding = this.seeding.then(async () => {
      for (const prefix of retired) await this.opts.counters.retire(`${prefix}${SEP}`).catch(() => {});
      for (const { budget, prefix } of fresh) {
        try {
          // A definition edited away and back must not find its old counts (nor its old claim).
          if (await this.opts.counters.claimSeed(`${prefix}${SEP}`)) await this.seed(store, budget);
        } catch (e) {
          this.opts.log()?.error({ budget: budget.name, cause: (e as Error).message }, "budget counters could not be read from the ledger");
        } finally {
          this.unseeded.delete(prefix);
        }
      }
    });
    return this.seeding;
  }

  private async seed(store: LedgerStore, b: Budget): Promise<void> {
    const nowMs = this.now();
    const w = budgetWindow(b, nowMs);
    const filters = Object.entries(b.match).map(([column, values]) => ({
      column: column as never,
      op: "in" as const,
      value: values,
    }));
    const base = {
      group_by: b.each_value_of ? [b.each_value_of as never] : [],
      grain: b.rolling ? ("hour" as const) : null,
      time_zone: "UTC",
      from: w.startMs,
      // Events stamped a little ahead of the clock count in this period too.
      to: b.rolling ? nowMs + 86_400_000 : w.endMs,
      order_by: [],
      limit: null,
      other: false,
      distribution: null,
      pricing: "current" as const,
    };
    const all = { projects: null };
    const priced = await store.query({ ...base, metrics: ["cost_usd"], filters }, all);
    const unpriced =
      b.unpriced.mode === "fallback"
        ? await store.query(
            { ...base, metrics: [...TOKEN_BUCKETS], filters: [...filters, { column: "price_status", op: "eq", value: "unpriced" }] },
            all,
          )
        : [];
    const perScope = new Map<string, Map<number, bigint>>();
    const add = (row: QueryRow, amount: bigint) => {
      if (amount === 0n) return;
      const scope = b.each_value_of ? row[b.each_value_of] : "";
      if (scope === null || scope === undefined) return;
      const bucket = b.rolling ? Date.parse(String(row.bucket)) : w.startMs;
      let m = perScope.get(String(scope));
      if (!m) perScope.set(String(scope), (m = new Map()));
      m.set(bucket, (m.get(bucket) ?? 0n) + amount);
    };
    for (const row of priced) if (row.cost_usd !== null) add(row, toNanoUsd(Decimal.parse(String(row.cost_usd))));
    if (b.unpriced.mode === "fallback") {
      for (const row of unpriced) {
        const buckets: Partial<Record<TokenBucket, number>> = {};
        for (const t of TOKEN_BUCKETS) if (typeof row[t] === "number") buckets[t] = row[t] as number;
        add(row, fallbackNanoUsd(b.unpriced, buckets));
      }
    }
    for (const [scope, buckets] of perScope) await this.opts.counters.seed(this.key(b, scope), buckets);
    this.opts.log()?.info({ budget: b.name, scopes: perScope.size }, "budget counters read from the ledger");
  }

  /**
   * What an estimate costs under a budget: priced by the rate card, or at its fallback rates;
   * null to refuse. `priced` caches the rate card's answer for the call (one per model).
   */
  private estimateNano(
    b: Budget,
    priced: Map<string, bigint | null>,
    provider: string,
    model: string,
    inputTokens: number,
    outputTokens: number,
    nowMs: number,
  ): bigint | null {
    let amount = priced.get(model);
    if (amount === undefined) {
      const usage = { buckets: { input_tokens: inputTokens, output_tokens: outputTokens }, units: {} };
      const price = this.opts.rateCard().price({ provider, model, timestamp: nowMs, usage });
      amount = price.status === "priced" ? toNanoUsd(price.cost) : null;
      priced.set(model, amount);
    }
    if (amount !== null) return amount;
    return b.unpriced.mode === "fallback" ? fallbackNanoUsd(b.unpriced, { input_tokens: inputTokens, output_tokens: outputTokens }) : null;
  }

  /**
   * A calendar budget's period only changes at its end: it is worked out once per period, not
   * on every call (a zone's offsets come from Intl, which is slow).
   */
  private window(b: Budget, ms: number): BudgetWindow {
    if (b.rolling) return budgetWindow(b, ms);
    const cached = this.windows.get(b);
    if (cached && ms >= cached.startMs && ms < cached.endMs) return cached;
    const w = budgetWindow(b, ms);
    // Late events of an earlier period are rarer than calls now: the cache follows the clock.
    if (!cached || ms >= cached.endMs) this.windows.set(b, w);
    return w;
  }

  private bucket(b: Budget, ms: number): number {
    return b.rolling ? budgetBucket(b, ms) : this.window(b, ms).startMs;
  }

  /**
   * Checks a call against every budget it falls in, and reserves its estimate in each. The
   * reservation is atomic over all of them and only taken while each stays at or under its
   * hard cap, so calls in flight together cannot pass a cap by more than their actual costs
   * exceed their estimates.
   */
  async check(req: BudgetCheckRequest): Promise<BudgetCheckResult> {
    try {
      return await this.checkCounters(req);
    } catch (e) {
      this.unavailable++;
      this.opts.log()?.error({ cause: (e as Error).message, event_id: req.id }, "budget counters unavailable");
      if (this.opts.onUnavailable() === "allow")
        return { action: "allow", model: req.model, downgraded_by: null, budgets: [], reserved_usd: null };
      return {
        action: "refuse",
        budget: "(counters)",
        reason: "counters_unavailable",
        message: "The budget counters cannot be reached, and counters.on_unavailable is refuse",
      };
    }
  }

  /** Checks that could not reach the counters since start. */
  unavailable = 0;

  /** An agent run past a ceiling is refused before any budget is looked at. */
  private checkRun(req: BudgetCheckRequest, nowMs: number): BudgetCheckResult | null {
    const runId = req.subject.columns.agent_run_id;
    const agent = req.subject.tags[RUN_TAGS.agent];
    if (!this.opts.runs || !runId || agent === undefined) return null;
    const price = this.opts.rateCard().price({
      provider: req.provider,
      model: req.model,
      timestamp: nowMs,
      usage: { buckets: { input_tokens: req.inputTokens, output_tokens: req.maxOutputTokens }, units: {} },
    });
    const depth = Number(req.subject.tags[RUN_TAGS.depth] ?? 0);
    const breach = this.opts.runs.admit({
      id: req.id,
      runId,
      agent,
      depth: Number.isInteger(depth) ? depth : 0,
      attempt: req.attempt ?? 1,
      estimateNano: price.status === "priced" ? toNanoUsd(price.cost) : 0n,
      inputTokens: req.inputTokens,
    });
    if (!breach) return null;
    return {
      action: "refuse",
      budget: `agent ${agent}`,
      reason: "agent_run_ceiling",
      message: `Agent run ${JSON.stringify(runId)} of ${JSON.stringify(agent)} is stopped: ${breach.ceiling} is ${breach.max}, and the run is at ${breach.used}`,
    };
  }

  private async checkCounters(req: BudgetCheckRequest): Promise<BudgetCheckResult> {
    const nowMs = this.now();
    const stopped = this.checkRun(req, nowMs);
    if (stopped) return stopped;
    const matching: Array<{ budget: Budget; scope: string }> = [];
    for (const budget of this.opts.budgets()) {
      const scope = budgetScope(budget, req.subject);
      if (scope !== null) matching.push({ budget, scope });
    }
    if (matching.length === 0) return { action: "allow", model: req.model, downgraded_by: null, budgets: [], reserved_usd: null };
    // A budget new in a reloaded file reads $0 until its spend is read from the ledger: wait.
    if (this.unseeded.size > 0 && matching.some((m) => this.unseeded.has(this.prefixes.get(m.budget.name) ?? ""))) await this.seeding;
    const refs = matching.map((m) => this.ref(m.budget, m.scope, nowMs));
    const levels = await this.opts.counters.levels(refs);
    let model = req.model;
    let downgradedBy: string | null = null;
    let amounts: bigint[] = [];
    const priced = new Map<string, bigint | null>();
    for (let round = 0; round < 2; round++) {
      amounts = [];
      for (const [i, { budget, scope }] of matching.entries()) {
        const amount = this.estimateNano(budget, priced, req.provider, model, req.inputTokens, req.maxOutputTokens, nowMs);
        if (amount === null)
          return {
            action: "refuse",
            budget: budget.name,
            reason: "unpriced",
            message: `Model ${JSON.stringify(model)} of ${req.provider} has no price, and budget ${JSON.stringify(budget.name)} blocks unpriced models`,
          };
        amounts.push(amount);
        const verdict = judgeBudget(budget, levels[i] as (typeof levels)[number], amount, this.overrideNano(budget, scope, nowMs));
        if (verdict.kind === "refuse") return this.refusal(budget, scope, verdict.action, verdict.at_percent);
        if (verdict.kind === "downgrade" && round === 0 && verdict.model !== model) {
          model = verdict.model;
          downgradedBy = budget.name;
        }
      }
      if (downgradedBy === null || round === 1) break;
    }
    const lines: ReserveLine[] = matching.map(({ budget, scope }, i) => ({
      ref: refs[i] as CounterRef,
      amount: amounts[i] as bigint,
      cap: hardCapNano(budget, this.overrideNano(budget, scope, nowMs)),
    }));
    const reserved = await this.opts.counters.reserve(req.id, lines, this.opts.reservationTtlMs());
    if (!reserved.ok) {
      const { budget, scope } = matching[reserved.line] as (typeof matching)[number];
      const cap = budget.actions.find((a) => a.action === "block" || a.action === "require_override");
      return this.refusal(budget, scope, cap?.action === "require_override" ? "require_override" : "block", cap?.at_percent ?? 100);
    }
    const limit = this.outputLimit(matching, lines, reserved.levels, req, model, nowMs);
    return {
      action: "allow",
      model,
      downgraded_by: downgradedBy,
      budgets: matching.map((m) => m.budget.name),
      reserved_usd: nanoToDecimal(amounts[0] as bigint).toString(),
      ...(limit && { max_output_tokens: limit.outputTokens, limited_by: limit.budget }),
    };
  }

  /**
   * For cut_streams budgets: the reserved output, plus what the budget's room after this
   * reservation buys at the model's output rate. The tightest budget decides.
   */
  private outputLimit(
    matching: ReadonlyArray<{ budget: Budget; scope: string }>,
    lines: readonly ReserveLine[],
    before: ReadonlyArray<{ spent: bigint; reserved: bigint }>,
    req: BudgetCheckRequest,
    model: string,
    nowMs: number,
  ): { outputTokens: number; budget: string } | null {
    const price = this.opts.rateCard().price({
      provider: req.provider,
      model,
      timestamp: nowMs,
      usage: { buckets: { output_tokens: 1_000_000 }, units: {} },
    });
    let best: { outputTokens: number; budget: string } | null = null;
    for (const [i, { budget }] of matching.entries()) {
      const line = lines[i] as ReserveLine;
      const level = before[i];
      if (!budget.cut_streams || line.cap === null || !level) continue;
      const perMillion =
        price.status === "priced"
          ? toNanoUsd(price.cost)
          : budget.unpriced.mode === "fallback"
            ? toNanoUsd(Decimal.parse(budget.unpriced.output_mtok))
            : 0n;
      if (perMillion <= 0n) continue;
      const room = line.cap - (level.spent + level.reserved + line.amount);
      const extra = room > 0n ? Number((room * 1_000_000n) / perMillion) : 0;
      const tokens = req.maxOutputTokens + extra;
      if (best === null || tokens < best.outputTokens) best = { outputTokens: tokens, budget: budget.name };
    }
    return best;
  }

  private refusal(budget: Budget, scope: string, action: "block" | "require_override", atPercent: number): BudgetCheckResult {
    const who = scope === "" ? "" : ` for ${budget.each_value_of} ${JSON.stringify(scope)}`;
    const limit = `$${budget.limit_usd} per ${budget.rolling ? "rolling " : ""}${budget.period}`;
    const message =
      action === "require_override"
        ? `Budget ${JSON.stringify(budget.name)}${who} has reached ${atPercent}% of its ${limit}; an approved override is required to go on`
        : `Budget ${JSON.stringify(budget.name)}${who} has reached ${atPercent}% of its ${limit}`;
    return { action: "refuse", budget: budget.name, reason: action, message };
  }

  /** Releases a reservation whose call was not made after all. */
  release(id: string): Promise<void> {
    return this.opts.counters.release([id]);
  }

  /**
   * Counts the events an append took in (not its duplicates or conflicts) in every budget they
   * fall in, and settles the reservations of every event of the append.
   */
  async observe(events: readonly PreparedEvent[], result: AppendResult): Promise<void> {
    const budgets = this.opts.budgets();
    const skipped = new Set<number>(result.duplicates);
    for (const c of result.conflicts) skipped.add(c.index);
    const runs = this.opts.runs;
    if (runs) for (const [i, e] of events.entries()) if (!skipped.has(i) && e.event.agent_run_id !== undefined) runs.observe(e);
    // Without budgets nothing is reserved (a reservation left by a removed budget expires).
    if (budgets.length === 0) return;
    const spend: SpendEntry[] = [];
    for (const [i, e] of events.entries()) {
      if (skipped.has(i)) continue;
      const subject = subjectOf(e);
      for (const b of budgets) {
        const scope = budgetScope(b, subject);
        if (scope === null) continue;
        let amount: bigint;
        if (e.price.status === "priced") amount = toNanoUsd(e.price.cost);
        else if (b.unpriced.mode === "fallback") amount = fallbackNanoUsd(b.unpriced, e.usage.buckets);
        else continue;
        if (amount > 0n) spend.push({ key: this.key(b, scope), bucketMs: this.bucket(b, e.timestampMs), amount });
      }
    }
    await this.opts.counters.record(
      spend,
      events.map((e) => e.event.id),
    );
  }

  /** Every scope of every budget that has spend or reservations now, and each single-scope budget. */
  async status(filter?: (b: Budget) => boolean): Promise<BudgetStatus[]> {
    const nowMs = this.now();
    const out: BudgetStatus[] = [];
    for (const b of this.opts.budgets()) {
      if (filter && !filter(b)) continue;
      const scopes = b.each_value_of === null ? [""] : await this.scopesOf(b);
      const levels = await this.opts.counters.levels(scopes.map((s) => this.ref(b, s, nowMs)));
      const w = this.window(b, nowMs);
      for (const [i, scope] of scopes.entries()) {
        const level = levels[i] as (typeof levels)[number];
        const override = this.overrideNano(b, scope, nowMs);
        const limit = limitNano(b, override);
        const forecast = forecastExhaustion(limit, level.spent, w, nowMs, b.rolling);
        out.push({
          name: b.name,
          scope: b.each_value_of === null ? null : scope,
          period: b.period,
          rolling: b.rolling,
          time_zone: b.time_zone,
          window: { from: new Date(w.startMs).toISOString(), to: new Date(w.endMs).toISOString() },
          limit_usd: nanoToDecimal(limit).toString(),
          override_usd: nanoToDecimal(override).toString(),
          spent_usd: nanoToDecimal(level.spent).toString(),
          reserved_usd: nanoToDecimal(level.reserved).toString(),
          percent: percentOfLimit(level.spent + level.reserved, limit),
          state: budgetState(b, level, override),
          forecast_exhausted_at: forecast === null ? null : new Date(forecast).toISOString(),
          forecast_exhausts_in_period: forecast !== null && !b.rolling && forecast < w.endMs,
        });
      }
    }
    return out;
  }

  private async scopesOf(b: Budget): Promise<string[]> {
    const prefix = `${this.prefixes.get(b.name) ?? counterPrefix(b)}${SEP}`;
    return (await this.opts.counters.keys(prefix)).map((k) => k.slice(prefix.length)).sort();
  }

  private async prune(): Promise<void> {
    const live = new Set(this.prefixes.values());
    // The oldest bucket any budget can still count: a rolling month's, with a day to spare.
    const before = this.now() - 32 * 86_400_000;
    await this.opts.counters.prune(before, (key) => live.has(key.slice(0, key.indexOf(SEP))));
  }

  close(): void {
    clearInterval(this.pruneTimer);
  }
}
