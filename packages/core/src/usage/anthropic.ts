import { isPlainObject } from "../event/fields.js";
import type { NormalizedUsage } from "./buckets.js";
import { nonZero } from "./openai.js";
import type { UsageReader } from "./usage-reader.js";

/**
 * Anthropic Messages: `input_tokens` counts only uncached input; cache reads and cache
 * writes are reported beside it, not inside it
 * (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance).
 * `cache_creation` splits writes by TTL; without it every write is the default 5-minute kind.
 * Extended-thinking tokens are inside `output_tokens` and billed as output.
 */
export function normalizeAnthropicMessages(r: UsageReader): NormalizedUsage {
  const input = r.need("input_tokens");
  const output = r.need("output_tokens");
  const cacheRead = r.get("cache_read_input_tokens");
  const cacheWrite = r.get("cache_creation_input_tokens");
  let write5m = cacheWrite;
  let write1h = 0;
  if (r.has("cache_creation")) {
    write5m = r.get("cache_creation", "ephemeral_5m_input_tokens");
    write1h = r.get("cache_creation", "ephemeral_1h_input_tokens");
    // Older responses may report cache_creation_input_tokens only; when both are given they must agree.
    if (r.has("cache_creation_input_tokens") && write5m + write1h !== cacheWrite) {
      r.within(["cache_creation"], write5m + write1h, ["cache_creation_input_tokens"], cacheWrite);
      if (write5m + write1h < cacheWrite) write5m = cacheWrite - write1h;
    }
  }
  const searches = r.get("server_tool_use", "web_search_requests");
  const fetches = r.get("server_tool_use", "web_fetch_requests");
  return {
    buckets: nonZero({
      input_tokens: input,
      cache_read_tokens: cacheRead,
      cache_write_5m_tokens: write5m,
      cache_write_1h_tokens: write1h,
      output_tokens: output,
    }),
    units: nonZero({ web_search_calls: searches, tool_calls: fetches }),
  };
}

/**
 * Builds the final usage object of a streamed message. `message_start` carries the input
 * side and a provisional `output_tokens`; each `message_delta` carries cumulative counts
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types), so a later
 * field replaces an earlier one rather than adding to it.
 */
export function accumulateAnthropicStreamUsage(events: ReadonlyArray<unknown>): Record<string, unknown> | null {
  let usage: Record<string, unknown> | null = null;
  for (const raw of events) {
    if (!isPlainObject(raw)) continue;
    const ev = isPlainObject(raw.data) ? raw.data : raw;
    let part: unknown;
    if (ev.type === "message_start" && isPlainObject(ev.message)) part = ev.message.usage;
    else if (ev.type === "message_delta") part = ev.usage;
    if (!isPlainObject(part)) continue;
    usage = { ...(usage ?? {}) };
    for (const [k, v] of Object.entries(part)) {
      if (v !== null && v !== undefined) usage[k] = v;
    }
  }
  return usage;
}
