export interface GuardOptions {
  /** Ask the server's budgets before each call (POST /v1/budgets/check). */
  readonly budgets?: boolean;
  /** What a call does when the server does not answer in time: go ahead (default) or be refused. */
  readonly onUnavailable?: "allow" | "refuse";
  /** How long a check may take (default 1000 ms). */
  readonly timeoutMs?: number;
  /**
   * How long an answer that needs no reservation is reused for calls of the same attribution,
   * model and provider (default 2000 ms): "no budget covers this" and refusals. Calls a budget
   * covers always ask, since each needs its own reservation.
   */
  readonly cacheMs?: number;
  /** The output bound of the estimate when a request sets no max_tokens (default 4096). */
  readonly defaultMaxOutputTokens?: number;
}

/** A call about to be made, as the guard sends it to the server. */
export interface GuardRequest {
  /** The id its usage event will carry, under which the server reserves its estimate. */
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly inputTokens: number;
  readonly maxOutputTokens: number;
  readonly attempt: number;
  /** Attribution as event columns (project, feature, agent_run_id, …) and tags. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export type GuardDecision =
  | { readonly action: "allow"; readonly model: string }
  | {
      readonly action: "refuse";
      readonly reason: "block" | "require_override" | "unpriced" | "agent_run_ceiling" | "counters_unavailable" | "guard_unavailable";
      readonly budget: string;
      readonly message: string;
    };

interface CheckAnswer {
  readonly action: "allow" | "refuse";
  readonly model?: string;
  readonly budgets?: readonly string[];
  readonly reason?: Extract<GuardDecision, { action: "refuse" }>["reason"];
  readonly budget?: string;
  readonly message?: string;
}

/** Tags that differ on every call and say nothing about which budget covers it. */
const VOLATILE_TAGS = new Set(["agent_step"]);
const MAX_CACHED = 1000;

/**
 * The SDK's budget check: the server decides and reserves, so that every process of an app
 * draws on the same counters. Answers that hold no reservation are kept a short while.
 */
export class BudgetGuard {
  private readonly cache = new Map<string, { until: number; decision: GuardDecision }>();
  private readonly warned = new Set<number>();
  private readonly timeoutMs: number;
  private readonly cacheMs: number;

  constructor(
    private readonly endpoint: string,
    private readonly apiKey: string,
    private readonly options: GuardOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.cacheMs = options.cacheMs ?? 2000;
  }

  get defaultMaxOutputTokens(): number {
    return this.options.defaultMaxOutputTokens ?? 4096;
  }

  private cacheKey(req: GuardRequest): string {
    const { tags, span_id: _s, parent_span_id: _p, trace_id: _t, ...columns } = req.fields as Record<string, unknown>;
    const stable = Object.entries((tags ?? {}) as Record<string, string>).filter(([k]) => !VOLATILE_TAGS.has(k));
    return JSON.stringify([req.provider, req.model, columns, stable]);
  }

  async check(req: GuardRequest): Promise<GuardDecision> {
    const key = this.cacheKey(req);
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.decision;
    let answer: CheckAnswer;
    try {
      const res = await fetch(`${this.endpoint.replace(/\/+$/, "")}/v1/budgets/check`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.apiKey}` },
        body: JSON.stringify({
          ...req.fields,
          id: req.id,
          provider: req.provider,
          model: req.model,
          input_tokens: req.inputTokens,
          max_output_tokens: req.maxOutputTokens,
          attempt: req.attempt,
        }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) {
        const text = (await res.text()).slice(0, 200);
        // A refused key or a bad request will not fix itself: say so once, not silently on every call.
        if (res.status < 500 && res.status !== 408 && res.status !== 429 && !this.warned.has(res.status)) {
          this.warned.add(res.status);
          process.emitWarning(`Costtrail's budget check answered ${res.status}: ${text}`, { code: "COSTTRAIL_GUARD" });
        }
        throw new Error(`the server answered ${res.status}: ${text}`);
      }
      answer = (await res.json()) as CheckAnswer;
    } catch (e) {
      if (this.options.onUnavailable === "refuse")
        return {
          action: "refuse",
          reason: "guard_unavailable",
          budget: "(guard)",
          message: `Costtrail's budget check did not answer (${(e as Error).message}), and the guard refuses calls then`,
        };
      return { action: "allow", model: req.model };
    }
    const decision: GuardDecision =
      answer.action === "refuse"
        ? {
            action: "refuse",
            reason: answer.reason ?? "block",
            budget: answer.budget ?? "",
            message: answer.message ?? "refused by a budget",
          }
        : { action: "allow", model: answer.model ?? req.model };
    // A covered call holds a reservation: the next one must ask again. A run's calls too, since
    // each counts against the run's ceilings.
    const reusable =
      req.fields.agent_run_id === undefined &&
      (answer.action === "refuse" ? answer.reason !== "counters_unavailable" : (answer.budgets ?? []).length === 0);
    if (reusable) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, { until: Date.now() + this.cacheMs, decision });
    }
    return decision;
  }
}
