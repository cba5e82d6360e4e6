import {
  type AgentCeilings,
  type CeilingBreach,
  type PreparedEvent,
  ceilingBreach,
  nanoToDecimal,
  toNanoUsd,
  totalTokens,
} from "@costtrail/core";

/** The tags that name a run's agent and its nesting (set by the SDK's agentRun, or a gateway caller). */
export const RUN_TAGS = { agent: "agent", depth: "agent_depth" } as const;

interface RunState {
  readonly agent: string;
  costNano: bigint;
  tokens: number;
  llmCalls: number;
  toolCalls: number;
  retries: number;
  depth: number;
  startedMs: number;
  /** The run's latest activity: its newest event, or a call admitted now. Wall time runs from start to here. */
  lastMs: number;
  /** Calls admitted whose events have not arrived: their estimates count against the cost ceiling. */
  readonly pending: Map<string, { readonly estimate: bigint; readonly retry: number }>;
  /** Ids already counted as calls, so that an admitted call's event is not counted again. */
  readonly counted: Set<string>;
  stopped: (CeilingBreach & { readonly at: number }) | null;
}

export interface RunCall {
  readonly id: string;
  readonly runId: string;
  readonly agent: string;
  readonly depth: number;
  readonly attempt: number;
  readonly estimateNano: bigint;
  readonly inputTokens: number;
}

export interface RunStanding {
  readonly agent_run_id: string;
  readonly agent: string;
  readonly cost_usd: string;
  readonly tokens: number;
  readonly llm_calls: number;
  readonly tool_calls: number;
  readonly retries: number;
  readonly depth: number;
  readonly started_at: string;
  readonly stopped: { readonly ceiling: string; readonly used: string; readonly max: string; readonly at: string } | null;
}

/** Runs idle this long are forgotten: a run that comes back starts a fresh tally. */
const IDLE_MS = 6 * 3_600_000;
const TOOL_OPERATIONS: ReadonlySet<string> = new Set(["tool_call", "web_search"]);

/**
 * The kill switch for runaway agent runs: a tally per run of an agent that has ceilings, fed
 * by the calls a check admits and by the events the ledger takes in. Once a run passes a
 * ceiling it is stopped, and every later call of that run is refused, from any door.
 */
export class AgentRunTracker {
  private readonly runs = new Map<string, RunState>();
  private lastSweep = 0;

  constructor(
    private readonly ceilings: () => readonly AgentCeilings[],
    private readonly now: () => number = Date.now,
  ) {}

  hasCeilings(): boolean {
    return this.ceilings().length > 0;
  }

  private ceilingsOf(agent: string | undefined): AgentCeilings | undefined {
    return agent === undefined ? undefined : this.ceilings().find((c) => c.agent === agent);
  }

  private state(runId: string, agent: string, atMs: number): RunState {
    let s = this.runs.get(runId);
    if (!s) {
      s = {
        agent,
        costNano: 0n,
        tokens: 0,
        llmCalls: 0,
        toolCalls: 0,
        retries: 0,
        depth: 0,
        startedMs: atMs,
        lastMs: atMs,
        pending: new Map(),
        counted: new Set(),
        stopped: null,
      };
      this.runs.set(runId, s);
    }
    return s;
  }

  private breach(
    c: AgentCeilings,
    s: RunState,
    extra: { calls: number; retries: number; costNano: bigint; tokens: number },
  ): CeilingBreach | null {
    let pending = 0n;
    for (const v of s.pending.values()) pending += v.estimate;
    return ceilingBreach(c, {
      costUsd: nanoToDecimal(s.costNano + pending + extra.costNano),
      tokens: s.tokens + extra.tokens,
      llmCalls: s.llmCalls + extra.calls,
      toolCalls: s.toolCalls,
      retries: s.retries + extra.retries,
      depth: s.depth,
      wallTimeMs: s.lastMs - s.startedMs,
    });
  }

  /**
   * Before a call: the breach that stops it (the run was stopped before, or this call would
   * pass a ceiling, which stops the run), or null and the call is counted.
   */
  admit(call: RunCall): CeilingBreach | null {
    const c = this.ceilingsOf(call.agent);
    if (!c) return null;
    this.sweep();
    const nowMs = this.now();
    const s = this.state(call.runId, call.agent, nowMs);
    s.lastMs = nowMs;
    s.depth = Math.max(s.depth, call.depth);
    if (s.stopped) return s.stopped;
    if (s.counted.has(call.id)) return null;
    const retry = call.attempt > 1 ? 1 : 0;
    const breach = this.breach(c, s, { calls: 1, retries: retry, costNano: call.estimateNano, tokens: call.inputTokens });
    if (breach) {
      s.stopped = { ...breach, at: nowMs };
      return s.stopped;
    }
    s.counted.add(call.id);
    s.llmCalls++;
    s.retries += retry;
    s.pending.set(call.id, { estimate: call.estimateNano, retry });
    return null;
  }

  /** Counts an event the ledger took in; a run it pushes past a ceiling is stopped for its next call. */
  observe(e: PreparedEvent): void {
    this.sweep();
    const runId = e.event.agent_run_id;
    const agent = e.event.tags?.[RUN_TAGS.agent];
    const c = runId === undefined ? undefined : this.ceilingsOf(agent);
    if (!c || runId === undefined || agent === undefined) return;
    // An event of a run long over (a backfill, an import) stops nothing: ceilings are for runs going on.
    if (e.timestampMs < this.now() - IDLE_MS && !this.runs.has(runId)) return;
    const s = this.state(runId, agent, e.timestampMs);
    s.startedMs = Math.min(s.startedMs, e.timestampMs);
    s.lastMs = Math.max(s.lastMs, e.timestampMs);
    const depth = Number(e.event.tags?.[RUN_TAGS.depth] ?? 0);
    if (Number.isInteger(depth)) s.depth = Math.max(s.depth, depth);
    const admitted = s.pending.get(e.event.id);
    s.pending.delete(e.event.id);
    // A refused call never reached the provider: it is not one of the run's calls, even if the
    // run's check admitted it before a budget refused it.
    if (e.event.status === "blocked") {
      if (admitted) {
        s.llmCalls--;
        s.retries -= admitted.retry;
      }
      return;
    }
    const tool = TOOL_OPERATIONS.has(e.event.operation ?? "");
    if (!s.counted.has(e.event.id)) {
      s.counted.add(e.event.id);
      if (tool) s.toolCalls += 1;
      else {
        s.llmCalls++;
        if ((e.event.attempt ?? 1) > 1) s.retries++;
      }
    }
    if (!tool && e.usage.units.tool_calls) s.toolCalls += e.usage.units.tool_calls;
    if (e.price.status === "priced") s.costNano += toNanoUsd(e.price.cost);
    s.tokens += totalTokens(e.usage.buckets);
    if (!s.stopped) {
      const breach = this.breach(c, s, { calls: 0, retries: 0, costNano: 0n, tokens: 0 });
      if (breach) s.stopped = { ...breach, at: this.now() };
    }
  }

  standing(runId: string): RunStanding | null {
    const s = this.runs.get(runId);
    return s ? this.describe(runId, s) : null;
  }

  /** Runs stopped by a ceiling, newest first. */
  stoppedRuns(): RunStanding[] {
    return [...this.runs.entries()]
      .filter(([, s]) => s.stopped !== null)
      .sort((a, b) => (b[1].stopped?.at ?? 0) - (a[1].stopped?.at ?? 0))
      .map(([id, s]) => this.describe(id, s));
  }

  private describe(runId: string, s: RunState): RunStanding {
    return {
      agent_run_id: runId,
      agent: s.agent,
      cost_usd: nanoToDecimal(s.costNano).toString(),
      tokens: s.tokens,
      llm_calls: s.llmCalls,
      tool_calls: s.toolCalls,
      retries: s.retries,
      depth: s.depth,
      started_at: new Date(s.startedMs).toISOString(),
      stopped: s.stopped
        ? { ceiling: s.stopped.ceiling, used: s.stopped.used, max: s.stopped.max, at: new Date(s.stopped.at).toISOString() }
        : null,
    };
  }

  private sweep(): void {
    const nowMs = this.now();
    if (nowMs - this.lastSweep < 60_000) return;
    this.lastSweep = nowMs;
    for (const [id, s] of this.runs) if (nowMs - s.lastMs > IDLE_MS) this.runs.delete(id);
  }
}
