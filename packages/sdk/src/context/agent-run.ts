import { newRunId, newSpanId, newTraceId } from "../ids.js";

/**
 * Limits on one run, enforced in the app: a call that would pass one is refused, and the
 * run's calls in flight are cut off. Cost ceilings need prices, which the server has: set
 * them per agent under `agent_runs` in costtrail.yaml and turn the SDK's guard on.
 */
export interface RunCeilings {
  readonly maxLlmCalls?: number;
  readonly maxToolCalls?: number;
  readonly maxTokens?: number;
  readonly maxRetries?: number;
  readonly maxDepth?: number;
  readonly maxWallTimeMs?: number;
}

/** What a caller says about an agent run. */
export interface AgentRunOptions {
  /** The agent's name, recorded as the tag `agent`; ceilings are set per name. */
  readonly name: string;
  /** A run id of the caller's own (default: a new `run_…` id). */
  readonly id?: string;
  readonly ceilings?: RunCeilings;
}

/** Why a run was stopped: the ceiling, and what the run had used against it. */
export interface RunStop {
  readonly ceiling: string;
  readonly used: string;
  readonly max: string;
  /** Where the ceiling is set: the app's agentRun options, or the server's agent_runs. */
  readonly source: "sdk" | "server";
  readonly message: string;
}

/**
 * Thrown by `agentRun` when its run was stopped at a ceiling, whatever the run's own code
 * threw after its calls were cut off. Check `err.code`, not `instanceof`.
 */
export class AgentRunStoppedError extends Error {
  readonly code = "CT_AGENT_RUN_STOPPED";
  constructor(
    readonly runId: string,
    readonly agent: string,
    readonly stop: RunStop,
  ) {
    super(stop.message);
    this.name = "AgentRunStoppedError";
  }
}

/**
 * One agent run: every call inside it shares the run id and trace id, and is one step whose
 * span is a child of the run's span. A run started inside another is a child run: same trace,
 * its span a child of the parent run's span.
 */
export class AgentRun {
  readonly id: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly parent: AgentRun | undefined;
  readonly depth: number;
  readonly startedAt: number;
  readonly ceilings: RunCeilings;
  private stepCount = 0;
  private readonly tally = { llmCalls: 0, toolCalls: 0, tokens: 0, retries: 0 };
  private stopped: RunStop | null = null;
  private readonly controller = new AbortController();

  constructor(options: AgentRunOptions, parent: AgentRun | undefined, traceId: string | undefined) {
    this.id = options.id ?? newRunId();
    this.name = options.name;
    this.parent = parent;
    this.traceId = parent?.traceId ?? traceId ?? newTraceId();
    this.spanId = newSpanId();
    this.parentSpanId = parent?.spanId;
    this.depth = parent ? parent.depth + 1 : 0;
    this.startedAt = Date.now();
    this.ceilings = options.ceilings ?? {};
  }

  /** Why the run was stopped, or null while it may go on. */
  get stop(): RunStop | null {
    return this.stopped ?? this.parent?.stop ?? null;
  }

  /** Aborts when the run (or a run it is inside) is stopped: the calls in flight are cut off then. */
  get signal(): AbortSignal {
    return this.parent ? AbortSignal.any([this.controller.signal, this.parent.signal]) : this.controller.signal;
  }

  /** Stops the run: its calls in flight are cut off and its next calls refused. The first reason stays. */
  halt(stop: RunStop): void {
    if (this.stopped) return;
    this.stopped = stop;
    this.controller.abort(new AgentRunStoppedError(this.id, this.name, stop));
  }

  private stopFor(ceiling: string, used: string, max: string): RunStop {
    return {
      ceiling,
      used,
      max,
      source: "sdk",
      message: `Agent run ${JSON.stringify(this.id)} of ${JSON.stringify(this.name)} is stopped: ${ceiling} is ${max}, and the run is at ${used}`,
    };
  }

  private over(ceiling: string, used: number, max: number | undefined, unit = ""): RunStop | null {
    return max === undefined || used <= max ? null : this.stopFor(ceiling, `${used}${unit}`, `${max}${unit}`);
  }

  /**
   * Before a call: counts it, or stops the run if it would pass a ceiling. Returns why the
   * call may not be made, or null.
   */
  admitCall(attempt: number): RunStop | null {
    const stopped = this.stop;
    if (stopped) return stopped;
    const c = this.ceilings;
    const retry = attempt > 1 ? 1 : 0;
    const breach =
      this.over("maxLlmCalls", this.tally.llmCalls + 1, c.maxLlmCalls) ??
      this.over("maxRetries", this.tally.retries + retry, c.maxRetries) ??
      this.over("maxDepth", this.depth, c.maxDepth) ??
      this.over("maxTokens", this.tally.tokens, c.maxTokens) ??
      this.over("maxWallTimeMs", Date.now() - this.startedAt, c.maxWallTimeMs, " ms");
    if (breach) {
      this.halt(breach);
      return breach;
    }
    // A child run's call is also its parent's: the parent's ceilings may refuse it.
    const parentStop = this.parent?.admitCall(attempt) ?? null;
    if (parentStop) return parentStop;
    this.tally.llmCalls++;
    this.tally.retries += retry;
    return null;
  }

  /** Takes back a call admitted and then refused by a budget: it never reached the provider. */
  cancelCall(attempt: number): void {
    this.tally.llmCalls = Math.max(0, this.tally.llmCalls - 1);
    if (attempt > 1) this.tally.retries = Math.max(0, this.tally.retries - 1);
    this.parent?.cancelCall(attempt);
  }

  /** After a call or a tracked operation: its tokens and tool calls; a run they push past a ceiling is stopped. */
  recordUse(tokens: number, toolCalls: number): void {
    this.tally.tokens += tokens;
    this.tally.toolCalls += toolCalls;
    const breach =
      this.over("maxTokens", this.tally.tokens, this.ceilings.maxTokens) ??
      this.over("maxToolCalls", this.tally.toolCalls, this.ceilings.maxToolCalls);
    if (breach) this.halt(breach);
    this.parent?.recordUse(tokens, toolCalls);
  }

  /** Stops the run when its wall time runs out, even while a call is in flight. */
  watchWallTime(): () => void {
    const max = this.ceilings.maxWallTimeMs;
    if (max === undefined) return () => {};
    const timer = setTimeout(() => this.halt(this.stopFor("maxWallTimeMs", `${Date.now() - this.startedAt} ms`, `${max} ms`)), max);
    timer.unref();
    return () => clearTimeout(timer);
  }

  /** Calls made so far. */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * The step number of a call. A retry (attempt > 1) repeats its call's step rather than
   * starting a new one, so steps count calls and attempts show the retries.
   */
  step(attempt: number): number {
    if (attempt <= 1 || this.stepCount === 0) this.stepCount++;
    return this.stepCount;
  }
}
