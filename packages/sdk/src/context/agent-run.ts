import { newRunId, newSpanId, newTraceId } from "../ids.js";

/** What a caller says about an agent run. */
export interface AgentRunOptions {
  /** The agent's name, recorded as the tag `agent`; ceilings are set per name. */
  readonly name: string;
  /** A run id of the caller's own (default: a new `run_…` id). */
  readonly id?: string;
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
  private stepCount = 0;

  constructor(options: AgentRunOptions, parent: AgentRun | undefined, traceId: string | undefined) {
    this.id = options.id ?? newRunId();
    this.name = options.name;
    this.parent = parent;
    this.traceId = parent?.traceId ?? traceId ?? newTraceId();
    this.spanId = newSpanId();
    this.parentSpanId = parent?.spanId;
    this.depth = parent ? parent.depth + 1 : 0;
    this.startedAt = Date.now();
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
