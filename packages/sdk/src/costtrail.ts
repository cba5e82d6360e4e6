import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Api,
  CALL_TAGS,
  type Result,
  callEventFields,
  type UsageBuckets,
  type UsageEvent,
  type Units,
  normalizeUsage,
  totalTokens,
  validateEvent,
} from "@costtrail/core";
import { AgentRun, type AgentRunOptions, AgentRunStoppedError } from "./context/agent-run.js";
import { type Attribution, type CallScope, attributionFields, currentScope, mergeAttribution, runInScope } from "./context/attribution.js";
import { BatchProcessor, type BatchProcessorOptions, type ExportStats } from "./exporter/batch-processor.js";
import type { EventExporter } from "./exporter/export-outcome.js";
import { HttpExporter } from "./exporter/http-exporter.js";
import { BudgetGuard, type GuardDecision, type GuardOptions } from "./guard/budget-guard.js";
import { newEventId, newSpanId } from "./ids.js";
import { type AiSdkMiddleware, aiSdkMiddleware } from "./wrap/ai-sdk-middleware.js";
import type { CallRecord } from "./wrap/call-record.js";
import { type LangchainHandler, langchainHandler } from "./wrap/langchain-handler.js";
import type { GuardedCall } from "./wrap/instrumented-fetch.js";
import { type WrapOptions, wrapClient } from "./wrap/wrap-client.js";

export interface CosttrailOptions extends BatchProcessorOptions {
  /** The collector's base URL (default: COSTTRAIL_ENDPOINT, else http://127.0.0.1:4680). */
  readonly endpoint?: string;
  /** An `ingest` key (default: COSTTRAIL_API_KEY). */
  readonly apiKey?: string;
  readonly project?: string;
  readonly environment?: string;
  /** Attribution every event starts from; contexts add to it. */
  readonly defaults?: Attribution;
  /** Where events go instead of the collector, e.g. a MemoryExporter in tests. */
  readonly exporter?: EventExporter;
  /** Budget checks before each call, against the server's budgets and agent-run ceilings. */
  readonly guard?: GuardOptions;
}

/** Anything billable that is not a wrapped client's call: a self-hosted model, a tool, a search. */
export interface TrackInput extends Attribution {
  readonly provider: string;
  readonly model: string;
  readonly operation?: UsageEvent["operation"];
  /** The provider API whose usage object `rawUsage` is. */
  readonly api?: Api;
  readonly rawUsage?: Record<string, unknown>;
  /** Usage already split into buckets. */
  readonly usage?: UsageBuckets;
  /** Non-token billables: requests, web_search_calls, images, seconds, tool_calls. */
  readonly units?: Units;
  /** A cost the caller knows, as a decimal string ("0.0042"): never a float. */
  readonly costUsd?: string;
  readonly status?: UsageEvent["status"];
  readonly errorType?: string;
  readonly latencyMs?: number;
  readonly timestamp?: Date | string;
  readonly id?: string;
}

export type TrackResult = Result<{ readonly id: string }>;

/** Tags the SDK sets itself. */
export const SDK_TAGS = { ...CALL_TAGS, agent: "agent", agentStep: "agent_step", agentDepth: "agent_depth" } as const;

/**
 * One spool per collector and project: a rotated key still sends what the old one left, and
 * apps of other projects never hand their backlog to a key that may not write it.
 */
function defaultSpoolDir(endpoint: string, project: string | undefined): string {
  const id = createHash("sha256")
    .update(`${endpoint}\n${project ?? ""}`)
    .digest("hex")
    .slice(0, 16);
  return join(tmpdir(), "costtrail-spool", id);
}

/**
 * The SDK's entry point: wraps provider clients, carries attribution through the app's awaits,
 * and sends every call's usage to the collector off the hot path.
 */
export class Costtrail {
  private readonly processor: BatchProcessor;
  private readonly defaults: Attribution;
  private readonly guard: BudgetGuard | undefined;

  constructor(options: CosttrailOptions = {}) {
    const endpoint = options.endpoint ?? process.env.COSTTRAIL_ENDPOINT ?? "http://127.0.0.1:4680";
    const apiKey = options.apiKey ?? process.env.COSTTRAIL_API_KEY ?? "";
    const exporter = options.exporter ?? new HttpExporter({ endpoint, apiKey });
    const spoolDir =
      options.spoolDir ?? (options.exporter ? false : defaultSpoolDir(endpoint, options.project ?? options.defaults?.project));
    this.processor = new BatchProcessor(exporter, { ...options, spoolDir });
    this.defaults = mergeAttribution(
      { ...(options.project && { project: options.project }), ...(options.environment && { environment: options.environment }) },
      options.defaults ?? {},
    );
    this.guard = options.guard?.budgets ? new BudgetGuard(endpoint, apiKey, options.guard) : undefined;
  }

  /** The server's verdict on a call about to be made; its estimate is reserved under the call's event id. */
  private checkCall(call: GuardedCall): Promise<GuardDecision> {
    const guard = this.guard as BudgetGuard;
    const b = call.body;
    const declared = [b.max_tokens, b.max_completion_tokens, b.max_output_tokens].find(
      (v): v is number => typeof v === "number" && Number.isInteger(v) && v > 0,
    );
    // The run's current step is passed so that asking does not take a step.
    const fields = this.buildEvent(call.scope, {}, call.attempt, {}, call.scope?.run?.steps ?? 0);
    return guard.check({
      id: call.id,
      provider: call.provider,
      model: call.model,
      // Four characters a token over the whole request: the SDK ships no tokenizer, and JSON's
      // punctuation keeps this on the high side.
      inputTokens: Math.ceil(call.bodyChars / 4),
      maxOutputTokens: call.operation === "embedding" ? 0 : (declared ?? guard.defaultMaxOutputTokens),
      attempt: call.attempt,
      fields: Object.fromEntries(Object.entries(fields).filter(([k]) => k !== "span_id" && k !== "parent_span_id")),
    });
  }

  /** The same client, measured: every call becomes a usage event with this context's attribution. */
  wrap<T extends object>(client: T, options?: WrapOptions): T {
    const guard = this.guard ? (call: GuardedCall) => this.checkCall(call) : undefined;
    return wrapClient(client, (call) => this.recordCall(call), options, guard);
  }

  /**
   * A Vercel AI SDK middleware: `wrapLanguageModel({ model, middleware: ct.aiSdkMiddleware() })`.
   * ai 6 takes the default specification version "v3"; ai 7 takes "v4".
   */
  aiSdkMiddleware<V extends string = "v3">(options: { specificationVersion?: V } = {}): AiSdkMiddleware<V> {
    return aiSdkMiddleware((call) => this.recordCall(call), (options.specificationVersion ?? "v3") as V);
  }

  /** A LangChain.js callback handler: `model.invoke(messages, { callbacks: [ct.langchainHandler()] })`. */
  langchainHandler(): LangchainHandler {
    return langchainHandler((call) => this.recordCall(call));
  }

  /** Runs `fn` with `attribution` added to every call inside it, across awaits. */
  withContext<T>(attribution: Attribution, fn: () => T): T {
    const outer = currentScope();
    return runInScope({ ...outer, attribution: mergeAttribution(outer?.attribution ?? {}, attribution) }, fn);
  }

  /**
   * Runs `fn` as one agent run: its calls share a run id and trace, one step each. When the
   * run passes a ceiling (its own, or its agent's on the server), its calls in flight are cut
   * off, its next calls are refused, and the returned promise rejects with an
   * AgentRunStoppedError (code CT_AGENT_RUN_STOPPED).
   */
  agentRun<T>(options: AgentRunOptions & Attribution, fn: (run: AgentRun) => T): T {
    const outer = currentScope();
    const { name, id, ceilings, ...attribution } = options;
    const attr = mergeAttribution(outer?.attribution ?? {}, attribution);
    const run = new AgentRun({ name, ...(id !== undefined && { id }), ...(ceilings && { ceilings }) }, outer?.run, attr.traceId);
    return runInScope({ attribution: attr, run }, () => {
      const unwatch = run.watchWallTime();
      const stopped = () => new AgentRunStoppedError(run.id, run.name, run.stop as NonNullable<typeof run.stop>);
      let result: T;
      try {
        result = fn(run);
      } catch (e) {
        unwatch();
        throw run.stop ? stopped() : e;
      }
      if (!(result instanceof Promise)) {
        unwatch();
        return result;
      }
      const halted = new Promise<never>((_, reject) => {
        if (run.signal.aborted) reject(stopped());
        else run.signal.addEventListener("abort", () => reject(stopped()), { once: true });
      });
      return Promise.race([result, halted]).finally(unwatch) as T;
    });
  }

  /** The agent run the current code is in, if any. */
  currentRun(): AgentRun | undefined {
    return currentScope()?.run;
  }

  /**
   * Records one billable operation. Checked like the collector checks it: a bad input is
   * answered with the field and the reason, never thrown.
   */
  track(input: TrackInput): TrackResult {
    const scope = currentScope();
    const {
      provider,
      model,
      operation,
      api,
      rawUsage,
      usage,
      units,
      costUsd,
      status,
      errorType,
      latencyMs,
      timestamp,
      id,
      ...attribution
    } = input;
    const started = timestamp === undefined ? new Date() : new Date(timestamp);
    const event = this.buildEvent(scope, attribution, 1, {
      id: id ?? newEventId(),
      timestamp: Number.isNaN(started.getTime()) ? String(timestamp) : started.toISOString(),
      provider,
      model,
      ...(operation !== undefined && { operation }),
      ...(api !== undefined && { api }),
      ...(rawUsage !== undefined && { raw_usage: rawUsage }),
      // A tool call or a search may have no tokens at all: its units or cost are what it bills.
      ...(usage !== undefined ? { usage } : rawUsage === undefined && { usage: {} }),
      ...(units !== undefined && { units }),
      ...(costUsd !== undefined && { cost_usd: costUsd }),
      ...(status !== undefined && { status }),
      ...(errorType !== undefined && { error_type: errorType }),
      ...(latencyMs !== undefined && { latency_ms: latencyMs }),
    });
    const checked = validateEvent(event);
    if (!checked.ok) return checked;
    this.processor.enqueue(checked.value);
    const tool = operation === "tool_call" || operation === "web_search" ? 1 : (units?.tool_calls ?? 0);
    scope?.run?.recordUse(this.tokensOf(api, event), tool);
    return { ok: true, value: { id: checked.value.id } };
  }

  /** Sends everything recorded so far; what cannot be sent now is spooled. Never rejects. */
  flush(): Promise<void> {
    return this.processor.flush();
  }

  /** Flushes and stops; call it before a graceful exit (e.g. in a SIGTERM handler). */
  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }

  get stats(): Readonly<ExportStats> {
    return this.processor.stats;
  }

  private recordCall(call: CallRecord): void {
    const { fields, tags } = callEventFields(call);
    const event = { id: call.id ?? newEventId(), provider: call.provider, ...fields };
    const run = call.scope?.run;
    if (run && call.status !== "blocked") run.recordUse(this.tokensOf(call.api, fields), 0);
    this.processor.enqueue(this.buildEvent(call.scope, { tags }, call.attempt, event, call.step) as unknown as UsageEvent);
  }

  /** A call's tokens, for an agent run's tally. */
  private tokensOf(api: Api | undefined, fields: Record<string, unknown>): number {
    if (fields.raw_usage && api !== undefined) {
      const n = normalizeUsage(api, fields.raw_usage);
      return n.ok ? totalTokens(n.value.buckets) : 0;
    }
    return totalTokens((fields.usage ?? {}) as UsageBuckets);
  }

  /** Defaults, then the context, then the call's own attribution; and the agent run's ids. */
  private buildEvent(
    scope: CallScope | undefined,
    own: Attribution,
    attempt: number,
    event: Record<string, unknown>,
    step?: number,
  ): Record<string, unknown> {
    const attribution = mergeAttribution(mergeAttribution(this.defaults, scope?.attribution ?? {}), own);
    const fields: Record<string, unknown> = { ...attributionFields(attribution) };
    const run = scope?.run;
    if (run) {
      const tags = { ...(fields.tags as Record<string, string> | undefined) };
      tags[SDK_TAGS.agent] = run.name;
      if (run.depth > 0) tags[SDK_TAGS.agentDepth] = String(run.depth);
      tags[SDK_TAGS.agentStep] = String(step ?? run.step(attempt));
      fields.tags = tags;
      fields.agent_run_id = run.id;
      fields.trace_id = run.traceId;
      fields.span_id = newSpanId();
      fields.parent_span_id = run.spanId;
    }
    return { ...event, ...fields };
  }
}
