import type { CallReader, RequestPlan, SseMessage, UsageReading } from "./call-reader.js";
import { StreamReaderBase, isRecord, parseJson, stringOf } from "./call-reader.js";

function readTopLevel(body: unknown): UsageReading {
  if (!isRecord(body)) return {};
  return {
    ...(isRecord(body.usage) && { rawUsage: body.usage }),
    ...(stringOf(body.model) && { model: stringOf(body.model) }),
    ...(stringOf(body.service_tier) && { serviceTier: stringOf(body.service_tier) }),
  };
}

function plainPlan(body: Record<string, unknown>): RequestPlan {
  return { requestedModel: stringOf(body.model), streamed: body.stream === true, usageInjected: false };
}

/**
 * Chat Completions streams report usage only when asked (`stream_options.include_usage`), in
 * one last chunk with empty `choices`; every earlier chunk then carries `"usage": null`
 * (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options).
 * When the caller did not ask, we ask, and take both back out so the caller sees the stream
 * it asked for.
 */
class ChatStreamReader extends StreamReaderBase {
  constructor(private readonly injected: boolean) {
    super();
  }

  onEvent(message: SseMessage): SseMessage | null {
    this.sawContent = false;
    if (message.data === "[DONE]") {
      this.finished = true;
      return message;
    }
    const chunk = parseJson(message.data);
    if (!isRecord(chunk)) return message;
    this.model ??= stringOf(chunk.model);
    this.serviceTier = stringOf(chunk.service_tier) ?? this.serviceTier;
    if (isRecord(chunk.error)) this.streamError = stringOf(chunk.error.type) ?? stringOf(chunk.error.code) ?? "stream_error";
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    for (const choice of choices) {
      const delta = isRecord(choice) && isRecord(choice.delta) ? choice.delta : undefined;
      if (delta && (stringOf(delta.content) || stringOf(delta.refusal) || Array.isArray(delta.tool_calls))) {
        this.content();
        break;
      }
    }
    if (isRecord(chunk.usage)) this.usage = chunk.usage;
    if (!this.injected) return message;
    // Only what asking added goes: the usage chunk (no choices, a usage object) and the
    // `"usage": null` on the others. A chunk without choices that carries no usage (Azure's
    // prompt filter results) stays.
    if (choices.length === 0 && isRecord(chunk.usage)) return null;
    if (!("usage" in chunk) || chunk.usage !== null) return message;
    const { usage: _, ...rest } = chunk;
    return { ...message, data: JSON.stringify(rest) };
  }
}

export const openaiChatReader: CallReader = {
  api: "openai.chat",
  operation: "chat",
  plan(body) {
    const plan = plainPlan(body);
    const options = isRecord(body.stream_options) ? body.stream_options : undefined;
    if (!plan.streamed || options?.include_usage === true) return plan;
    const asked = { ...body, stream_options: { ...options, include_usage: true } };
    return { ...plan, body: JSON.stringify(asked), usageInjected: true };
  },
  readBody: readTopLevel,
  streamReader: (plan) => new ChatStreamReader(plan.usageInjected),
};

/** Responses streams carry the whole response, usage included, in their last event. */
class ResponsesStreamReader extends StreamReaderBase {
  onEvent(message: SseMessage): SseMessage | null {
    this.sawContent = false;
    const ev = parseJson(message.data);
    if (!isRecord(ev)) return message;
    const type = stringOf(ev.type) ?? message.event ?? "";
    if (isRecord(ev.response)) {
      const r = readTopLevel(ev.response);
      this.model = r.model ?? this.model;
      this.serviceTier = r.serviceTier ?? this.serviceTier;
      if (r.rawUsage) this.usage = r.rawUsage;
    }
    if (type.endsWith(".delta")) this.content();
    if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") this.finished = true;
    if (type === "error" || type === "response.failed") {
      const err = isRecord(ev.error) ? ev.error : isRecord(ev.response) && isRecord(ev.response.error) ? ev.response.error : {};
      this.streamError = stringOf(err.code) ?? stringOf(err.type) ?? "stream_error";
    }
    return message;
  }
}

export const openaiResponsesReader: CallReader = {
  api: "openai.responses",
  operation: "chat",
  plan: plainPlan,
  readBody: readTopLevel,
  streamReader: () => new ResponsesStreamReader(),
};

export const openaiEmbeddingsReader: CallReader = {
  api: "openai.embeddings",
  operation: "embedding",
  plan: (body) => ({ ...plainPlan(body), streamed: false }),
  readBody: readTopLevel,
  streamReader: () => new ResponsesStreamReader(),
};
