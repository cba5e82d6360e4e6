import type { UsageBuckets } from "@costtrail/core";
import { type CallScope, currentScope } from "../context/attribution.js";
import { isRecord, stringOf } from "@costtrail/core";
import type { CallSink } from "./call-record.js";
import { errorTypeOf } from "./ai-sdk-middleware.js";

/**
 * LangChain's provider names (`ls_provider` in a chat model's metadata) where they differ from
 * the rate card's.
 */
const PROVIDERS: Record<string, string> = { azure_openai: "azure", google_genai: "google", google_vertexai: "google", bedrock: "aws" };

interface Started {
  readonly startedAt: number;
  readonly t0: number;
  readonly scope: CallScope | undefined;
  readonly step: number | undefined;
  readonly provider: string;
  readonly requestedModel: string | undefined;
  readonly streamed: boolean;
  ttftMs?: number;
  tokens: number;
}

/**
 * LangChain's normalized usage (`usage_metadata` on the message): `input_tokens` counts cache
 * reads and writes, `output_tokens` counts reasoning
 * (https://v03.api.js.langchain.com/types/_langchain_core.messages.UsageMetadata.html).
 */
export function bucketsFromLangchainUsage(meta: unknown): UsageBuckets | undefined {
  if (!isRecord(meta)) return undefined;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  const inDetails = isRecord(meta.input_token_details) ? meta.input_token_details : {};
  const outDetails = isRecord(meta.output_token_details) ? meta.output_token_details : {};
  const cacheRead = n(inDetails.cache_read);
  const cacheWrite = n(inDetails.cache_creation);
  const reasoning = n(outDetails.reasoning);
  const out: Record<string, number> = {
    input_tokens: Math.max(0, n(meta.input_tokens) - cacheRead - cacheWrite),
    output_tokens: Math.max(0, n(meta.output_tokens) - reasoning),
  };
  if (cacheRead) out.cache_read_tokens = cacheRead;
  if (cacheWrite) out.cache_write_5m_tokens = cacheWrite;
  if (reasoning) out.reasoning_tokens = reasoning;
  return out;
}

/** The older `llmOutput.tokenUsage` ({ promptTokens, completionTokens }), when a model gives no usage_metadata. */
function bucketsFromTokenUsage(llmOutput: unknown): UsageBuckets | undefined {
  const t = isRecord(llmOutput) && isRecord(llmOutput.tokenUsage) ? llmOutput.tokenUsage : undefined;
  if (!t) return undefined;
  return bucketsFromLangchainUsage({ input_tokens: t.promptTokens, output_tokens: t.completionTokens });
}

/** The handler methods LangChain calls; a plain object of them is a callback handler. */
export interface LangchainHandler {
  readonly name: string;
  readonly awaitHandlers: boolean;
  handleChatModelStart(
    llm: unknown,
    messages: unknown,
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): void;
  handleLLMStart(
    llm: unknown,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): void;
  handleLLMNewToken(token: string, idx: unknown, runId: string): void;
  handleLLMEnd(output: unknown, runId: string): void;
  handleLLMError(err: unknown, runId: string): void;
}

export function langchainHandler(sink: CallSink): LangchainHandler {
  const runs = new Map<string, Started>();

  const start = (llm: unknown, runId: string, extraParams?: Record<string, unknown>, metadata?: Record<string, unknown>) => {
    const invocation = isRecord(extraParams?.invocation_params) ? extraParams.invocation_params : {};
    const lsProvider = stringOf(metadata?.ls_provider);
    const serializedId = isRecord(llm) && Array.isArray(llm.id) ? llm.id : [];
    const provider = lsProvider ?? stringOf(serializedId[serializedId.length - 2]) ?? "unknown";
    const scope = currentScope();
    runs.set(runId, {
      startedAt: Date.now(),
      t0: performance.now(),
      scope,
      step: scope?.run?.step(1),
      provider: PROVIDERS[provider] ?? provider,
      requestedModel: stringOf(metadata?.ls_model_name) ?? stringOf(invocation.model) ?? stringOf(invocation.model_name),
      streamed: invocation.stream === true || invocation.streaming === true,
      tokens: 0,
    });
  };

  return {
    name: "costtrail",
    // LangChain runs handlers from a background queue unless told to wait for them; there the
    // app's context is gone. Ours are cheap and synchronous: run inline, in the caller's context.
    awaitHandlers: true,
    handleChatModelStart(llm, _messages, runId, _parentRunId, extraParams, _tags, metadata) {
      start(llm, runId, extraParams, metadata);
    },
    handleLLMStart(llm, _prompts, runId, _parentRunId, extraParams, _tags, metadata) {
      start(llm, runId, extraParams, metadata);
    },
    handleLLMNewToken(_token, _idx, runId) {
      const run = runs.get(runId);
      if (!run) return;
      run.ttftMs ??= performance.now() - run.t0;
      run.tokens++;
    },
    handleLLMEnd(output, runId) {
      const run = runs.get(runId);
      if (!run) return;
      runs.delete(runId);
      const generation = isRecord(output) && Array.isArray(output.generations) ? output.generations[0]?.[0] : undefined;
      const message = isRecord(generation) && isRecord(generation.message) ? generation.message : undefined;
      const kwargs = message && isRecord(message.kwargs) ? message.kwargs : message;
      const usage =
        bucketsFromLangchainUsage(kwargs?.usage_metadata) ?? bucketsFromTokenUsage(isRecord(output) ? output.llmOutput : undefined);
      const meta = kwargs && isRecord(kwargs.response_metadata) ? kwargs.response_metadata : {};
      const model = stringOf(meta.model_name) ?? stringOf(meta.model);
      sink({
        provider: run.provider,
        operation: "chat",
        requestedModel: run.requestedModel,
        reading: model ? { model } : {},
        ...(usage ? { usage } : run.tokens > 0 ? { estimatedOutputTokens: run.tokens } : { usage: {} }),
        status: "ok",
        attempt: 1,
        startedAt: run.startedAt,
        latencyMs: performance.now() - run.t0,
        ...(run.ttftMs !== undefined && { ttftMs: run.ttftMs }),
        streamed: run.streamed || run.tokens > 0,
        scope: run.scope,
        step: run.step,
      });
    },
    handleLLMError(err, runId) {
      const run = runs.get(runId);
      if (!run) return;
      runs.delete(runId);
      const aborted = isRecord(err) && (err.name === "AbortError" || (err as { message?: unknown }).message === "Aborted");
      sink({
        provider: run.provider,
        operation: "chat",
        requestedModel: run.requestedModel,
        reading: {},
        ...(run.tokens > 0 ? { estimatedOutputTokens: run.tokens } : { usage: {} }),
        status: aborted ? "aborted" : "error",
        errorType: aborted ? "aborted" : errorTypeOf(err),
        attempt: 1,
        startedAt: run.startedAt,
        latencyMs: performance.now() - run.t0,
        streamed: run.streamed || run.tokens > 0,
        scope: run.scope,
        step: run.step,
      });
    },
  };
}
