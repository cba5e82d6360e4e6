import { isPlainObject } from "../event/fields.js";
import type { NormalizedUsage } from "./buckets.js";
import { nonZero } from "./openai.js";
import type { UsageReader } from "./usage-reader.js";

/**
 * Anthropic Messages: `input_tokens` counts only uncached input; cache reads and cache
 * writes are reported beside it, not inside it
 * (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance).
 * `cache_creation` splits writes by TTL; without it every write is the default 5-minute kind.
 */
export function normalizeAnthropicMessages(r: UsageReader): NormalizedUsage {
  const iterations = r.list("iterations");
  if (iterations.length > 0) return sumIterations(r, iterations.length);
  return normalizeOne(r, []);
}

/**
 * With server-side context compaction, `usage.iterations` lists every sampling pass
 * (the compaction and the message) and the top-level counts are only the last pass;
 * the bill is the sum of the passes.
 */
function sumIterations(r: UsageReader, n: number): NormalizedUsage {
  const buckets: Record<string, number> = {};
  const units: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const one = normalizeOne(r, ["iterations", i]);
    for (const [k, v] of Object.entries(one.buckets)) buckets[k] = (buckets[k] ?? 0) + (v ?? 0);
    for (const [k, v] of Object.entries(one.units)) units[k] = (units[k] ?? 0) + (v ?? 0);
  }
  // Server tool calls are reported once, at the top level.
  const top = normalizeServerTools(r, []);
  return { buckets, units: { ...units, ...top } };
}

function normalizeServerTools(r: UsageReader, at: string[]): Record<string, number> {
  return nonZero({
    web_search_calls: r.get(...at, "server_tool_use", "web_search_requests"),
    tool_calls: r.get(...at, "server_tool_use", "web_fetch_requests"),
  });
}

function normalizeOne(r: UsageReader, at: Array<string | number>): NormalizedUsage {
  const p = at;
  const input = r.need(...p, "input_tokens");
  const output = r.need(...p, "output_tokens");
  const cacheRead = r.get(...p, "cache_read_input_tokens");
  const cacheWrite = r.get(...p, "cache_creation_input_tokens");
  let write5m = cacheWrite;
  let write1h = 0;
  if (r.has(...p, "cache_creation")) {
    write5m = r.get(...p, "cache_creation", "ephemeral_5m_input_tokens");
    write1h = r.get(...p, "cache_creation", "ephemeral_1h_input_tokens");
    // Older responses may report cache_creation_input_tokens only; when both are given they must agree.
    if (r.has(...p, "cache_creation_input_tokens") && write5m + write1h !== cacheWrite) {
      r.within([...p, "cache_creation"], write5m + write1h, [...p, "cache_creation_input_tokens"], cacheWrite);
      if (write5m + write1h < cacheWrite) write5m = cacheWrite - write1h;
    }
  }
  // Extended-thinking tokens are inside output_tokens; newer responses break them out.
  const thinking = r.get(...p, "output_tokens_details", "thinking_tokens");
  r.within([...p, "output_tokens_details", "thinking_tokens"], thinking, [...p, "output_tokens"], output);
  return {
    buckets: nonZero({
      input_tokens: input,
      cache_read_tokens: cacheRead,
      cache_write_5m_tokens: write5m,
      cache_write_1h_tokens: write1h,
      output_tokens: output - thinking,
      reasoning_tokens: thinking,
    }),
    units: at.length === 0 ? normalizeServerTools(r, []) : {},
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
