import { type Issue, type IssuePath, type Result, issue } from "../errors.js";
import { TOKEN_BUCKETS, UNIT_KINDS } from "../usage/buckets.js";
import {
  type InferShape,
  boolean,
  checkShape,
  closedMap,
  costString,
  count,
  isoTime,
  jsonObject,
  measure,
  oneOf,
  optional,
  string,
  stringMap,
} from "./fields.js";

/** Provider APIs whose raw usage object core can normalize. */
export const APIS = [
  "openai.chat",
  "openai.responses",
  "openai.embeddings",
  "anthropic.messages",
  "gemini",
  "bedrock.converse",
  "otel",
] as const;
export type Api = (typeof APIS)[number];

export const EVENT_STATUSES = ["ok", "error", "blocked", "aborted"] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Attribution columns every query can group and filter by. */
export const ATTRIBUTION_COLUMNS = [
  "project",
  "environment",
  "team",
  "cost_center",
  "user_id",
  "customer_id",
  "feature",
  "agent_run_id",
  "trace_id",
  "span_id",
  "parent_span_id",
  "prompt_version",
  "experiment_id",
  "variant",
  "api_key_id",
] as const;
export type AttributionColumn = (typeof ATTRIBUTION_COLUMNS)[number];

export const LIMITS = {
  idChars: 128,
  attributionChars: 256,
  modelChars: 256,
  tagKeys: 64,
  tagKeyChars: 64,
  tagValueChars: 256,
  rawUsageChars: 16_384,
  maxMillis: 86_400_000,
  maxSeconds: 31_536_000,
} as const;

const attribution = optional(string({ max: LIMITS.attributionChars }));
const tokenCount = count();

const EVENT_SHAPE = {
  id: string({ min: 1, max: LIMITS.idChars, pattern: /^[\w.:-]+$/, patternHint: "letters, digits, '_', '-', '.' or ':'" }),
  timestamp: isoTime(),
  provider: string({ min: 1, max: 64 }),
  model: string({ min: 1, max: LIMITS.modelChars }),
  api: optional(oneOf(APIS)),
  operation: optional(
    oneOf(["chat", "completion", "embedding", "image", "audio", "web_search", "tool_call", "fine_tuning", "other"] as const),
  ),
  usage: optional(closedMap(TOKEN_BUCKETS, tokenCount)),
  raw_usage: optional(jsonObject(LIMITS.rawUsageChars)),
  units: optional(closedMap(UNIT_KINDS, count())),
  cost_usd: optional(costString()),
  batch: optional(boolean()),
  service_tier: optional(string({ min: 1, max: 32 })),
  project: attribution,
  environment: attribution,
  team: attribution,
  cost_center: attribution,
  user_id: attribution,
  customer_id: attribution,
  feature: attribution,
  agent_run_id: attribution,
  trace_id: attribution,
  span_id: attribution,
  parent_span_id: attribution,
  prompt_version: attribution,
  experiment_id: attribution,
  variant: attribution,
  api_key_id: attribution,
  tags: optional(
    stringMap({
      maxKeys: LIMITS.tagKeys,
      key: string({
        min: 1,
        max: LIMITS.tagKeyChars,
        pattern: /^[A-Za-z_][\w.-]*$/,
        patternHint: "a tag key of letters, digits, '_', '-' or '.' starting with a letter or '_'",
      }),
      value: string({ max: LIMITS.tagValueChars }),
    }),
  ),
  status: optional(oneOf(EVENT_STATUSES)),
  error_type: optional(string({ max: 128 })),
  attempt: optional(count(1000)),
  latency_ms: optional(measure(LIMITS.maxMillis)),
  ttft_ms: optional(measure(LIMITS.maxMillis)),
  streamed: optional(boolean()),
  cache_hit: optional(boolean()),
};

/** A usage event as it travels on the wire (DESIGN.md, "On the wire"). */
export type UsageEvent = InferShape<typeof EVENT_SHAPE>;

/** Field names of the usage event, in schema order. */
export const EVENT_FIELDS = Object.keys(EVENT_SHAPE) as ReadonlyArray<keyof UsageEvent>;

/** How far an event's time may run ahead of the clock by default: generous for drifting hosts and queued uploads. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 24 * 3_600_000;
/**
 * The earliest event time accepted by default. Paid LLM APIs opened in mid-2020, so every real
 * call can still be backfilled, while the zero times of broken clients (1970-01-01, 0001-01-01)
 * are refused.
 */
export const DEFAULT_MIN_TIMESTAMP = "2020-01-01T00:00:00Z";
const DEFAULT_MIN_TIMESTAMP_MS = Date.parse(DEFAULT_MIN_TIMESTAMP);

/** The window of event times accepted. */
export interface EventCheckOptions {
  /**
   * The present, in epoch milliseconds: the collector passes the time it received the batch.
   * Without it the future bound is not checked, because core never reads the clock itself.
   */
  readonly nowMs?: number;
  /** How far past `nowMs` an event's time may be; default 24 h. */
  readonly maxFutureSkewMs?: number;
  /** The earliest event time, in epoch milliseconds; default 2020-01-01T00:00:00Z. */
  readonly minTimestampMs?: number;
}

/** "24h", "90m", "7d": the largest whole unit, as config files write it (a day reads better as 24h). */
export function formatDuration(ms: number): string {
  if (ms >= 2 * 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function checkTime(timestamp: string, path: IssuePath, options: EventCheckOptions, issues: Issue[]): number {
  const ms = Date.parse(timestamp);
  const min = options.minTimestampMs ?? DEFAULT_MIN_TIMESTAMP_MS;
  if (ms < min) {
    issues.push(
      issue(
        "invalid_value",
        [...path, "timestamp"],
        `must be no earlier than ${new Date(min).toISOString()}, got ${JSON.stringify(timestamp)}`,
      ),
    );
  } else if (options.nowMs !== undefined) {
    const skew = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
    const latest = options.nowMs + skew;
    if (ms > latest) {
      issues.push(
        issue(
          "invalid_value",
          [...path, "timestamp"],
          `must be no later than ${new Date(latest).toISOString()}, ${formatDuration(skew)} after the event was received; got ${JSON.stringify(timestamp)}`,
        ),
      );
    }
  }
  return ms;
}

/** An event that passed every check, with its time read once. */
export interface CheckedEvent {
  readonly event: UsageEvent;
  readonly timestampMs: number;
}

/** validateEvent's work, keeping the parsed time for prepareEvent. */
export function checkEvent(value: unknown, path: IssuePath, options: EventCheckOptions): Result<CheckedEvent> {
  const issues: Issue[] = [];
  const event = checkShape(EVENT_SHAPE, value, path, issues);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (v.usage == null && v.raw_usage == null) {
      issues.push(issue("required", [...path, "usage"], "is required unless raw_usage is given"));
    }
    if (v.raw_usage != null && v.api == null) {
      issues.push(issue("required", [...path, "api"], `is required with raw_usage; one of ${APIS.join(", ")}`));
    }
  }
  const timestamp = (value as { timestamp?: unknown } | null)?.timestamp;
  // A malformed time was reported by its field check; only a well-formed one is placed in the window.
  const timestampMs =
    typeof timestamp === "string" && !issues.some((i) => i.path.length === path.length + 1 && i.path[path.length] === "timestamp")
      ? checkTime(timestamp, path, options, issues)
      : Number.NaN;
  if (event === undefined || issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { event, timestampMs } };
}

/**
 * Checks one event and returns every problem with its path; never throws for bad input.
 * Cross-field rules: usage or raw_usage must be present, and raw_usage needs the api it came from.
 * The time must fall in the window `options` describes.
 */
export function validateEvent(value: unknown, path: IssuePath = [], options: EventCheckOptions = {}): Result<UsageEvent> {
  const r = checkEvent(value, path, options);
  return r.ok ? { ok: true, value: r.value.event } : r;
}

export interface BatchValidation {
  readonly accepted: Array<{ index: number; event: UsageEvent }>;
  readonly rejected: Array<{ index: number; issues: Issue[] }>;
}

/** Validates a batch; one bad event never hides the good ones. Paths start `events[i]`. */
export function validateEvents(values: readonly unknown[], options: EventCheckOptions = {}): BatchValidation {
  const accepted: BatchValidation["accepted"] = [];
  const rejected: BatchValidation["rejected"] = [];
  values.forEach((value, index) => {
    const r = validateEvent(value, ["events", index], options);
    if (r.ok) accepted.push({ index, event: r.value });
    else rejected.push({ index, issues: r.issues });
  });
  return { accepted, rejected };
}
