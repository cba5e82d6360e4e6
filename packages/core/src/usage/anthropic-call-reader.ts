import { accumulateAnthropicStreamUsage } from "./anthropic.js";
import type { CallReader, SseMessage } from "./call-reader.js";
import { StreamReaderBase, isRecord, parseJson, stringOf } from "./call-reader.js";

/**
 * Messages streams give the input side in `message_start` and cumulative output counts in each
 * `message_delta`; core merges them. A stream cut short still has `message_start`'s input
 * tokens and the output counted so far.
 */
class MessagesStreamReader extends StreamReaderBase {
  private readonly usageEvents: Record<string, unknown>[] = [];

  override get rawUsage(): Record<string, unknown> | undefined {
    const usage = accumulateAnthropicStreamUsage(this.usageEvents);
    if (usage && stringOf(usage.service_tier)) this.serviceTier = stringOf(usage.service_tier);
    return usage ?? undefined;
  }

  onEvent(message: SseMessage): SseMessage | null {
    this.sawContent = false;
    const ev = parseJson(message.data);
    if (!isRecord(ev)) return message;
    if (ev.type === "message_start" && isRecord(ev.message)) {
      this.model = stringOf(ev.message.model) ?? this.model;
      this.usageEvents.push(ev);
    } else if (ev.type === "message_delta") {
      this.usageEvents.push(ev);
    } else if (ev.type === "content_block_delta") {
      this.content();
    } else if (ev.type === "message_stop") {
      this.finished = true;
    } else if (ev.type === "error") {
      this.streamError = (isRecord(ev.error) && stringOf(ev.error.type)) || "stream_error";
    }
    return message;
  }
}

export const anthropicMessagesReader: CallReader = {
  api: "anthropic.messages",
  operation: "chat",
  plan: (body) => ({ requestedModel: stringOf(body.model), streamed: body.stream === true, usageInjected: false }),
  readBody(body) {
    if (!isRecord(body)) return {};
    const usage = isRecord(body.usage) ? body.usage : undefined;
    return {
      ...(usage && { rawUsage: usage }),
      ...(stringOf(body.model) && { model: stringOf(body.model) }),
      ...(usage && stringOf(usage.service_tier) && { serviceTier: stringOf(usage.service_tier) }),
    };
  },
  streamReader: () => new MessagesStreamReader(),
};
