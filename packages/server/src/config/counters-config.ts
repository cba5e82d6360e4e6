import { type Issue, isPlainObject } from "@costtrail/core";

export interface CounterSettings {
  /** `memory` (one process, the default) or `redis` (replicas share the counters). */
  readonly store: "memory" | "redis";
  readonly redis_url: string | null;
  /** Prefix of every Redis key, so several Costtrail deployments can share one Redis. */
  readonly key_prefix: string;
  /** How long a reservation holds if its call's event never arrives (a crashed app). */
  readonly reservation_ttl_ms: number;
  /**
   * What a budget check does while the counters cannot be reached: `allow` keeps the app
   * working (and logs each failure), `refuse` holds every budgeted call until they are back.
   */
  readonly on_unavailable: "allow" | "refuse";
}

export const DEFAULT_COUNTER_SETTINGS: CounterSettings = {
  store: "memory",
  redis_url: null,
  key_prefix: "costtrail:",
  reservation_ttl_ms: 15 * 60_000,
  on_unavailable: "allow",
};

const KEYS = ["store", "redis_url", "key_prefix", "reservation_ttl", "on_unavailable"] as const;
const TTL_RE = /^(\d{1,5})(s|m|h)$/;
const TTL_UNITS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

export function checkCounters(v: unknown, issues: Issue[]): CounterSettings {
  if (v === undefined) return DEFAULT_COUNTER_SETTINGS;
  if (!isPlainObject(v)) {
    issues.push({
      code: "invalid_type",
      path: ["counters"],
      message: "must be a mapping { store, redis_url, key_prefix, reservation_ttl }",
    });
    return DEFAULT_COUNTER_SETTINGS;
  }
  const out = { ...DEFAULT_COUNTER_SETTINGS } as { -readonly [K in keyof CounterSettings]: CounterSettings[K] };
  for (const [k, val] of Object.entries(v)) {
    if (k === "store") {
      if (val === "memory" || val === "redis") out.store = val;
      else issues.push({ code: "invalid_value", path: ["counters", k], message: `must be memory or redis, got ${JSON.stringify(val)}` });
    } else if (k === "on_unavailable") {
      if (val === "allow" || val === "refuse") out.on_unavailable = val;
      else issues.push({ code: "invalid_value", path: ["counters", k], message: `must be allow or refuse, got ${JSON.stringify(val)}` });
    } else if (k === "redis_url") {
      const ok = typeof val === "string" && /^rediss?:\/\/[^\s]+$/.test(val) && URL.canParse(val);
      if (ok) out.redis_url = val;
      else
        issues.push({
          code: "invalid_format",
          path: ["counters", k],
          message: `must be a URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6380/0, got ${typeof val === "string" ? "an invalid URL" : JSON.stringify(val)}`,
        });
    } else if (k === "key_prefix") {
      if (typeof val === "string" && /^[\w:.-]{0,64}$/.test(val)) out.key_prefix = val;
      else
        issues.push({ code: "invalid_value", path: ["counters", k], message: "must be at most 64 letters, digits, '_', ':', '.' or '-'" });
    } else if (k === "reservation_ttl") {
      const m = typeof val === "string" ? TTL_RE.exec(val) : null;
      const ms = m ? Number(m[1]) * TTL_UNITS[m[2] as keyof typeof TTL_UNITS] : 0;
      if (ms >= 1000 && ms <= 24 * 3_600_000) out.reservation_ttl_ms = ms;
      else
        issues.push({
          code: "invalid_value",
          path: ["counters", k],
          message: `must be a duration from 1s to 24h such as "15m", got ${JSON.stringify(val)}`,
        });
    } else {
      issues.push({ code: "unknown_field", path: ["counters", k], message: `is not a known field; expected ${KEYS.join(", ")}` });
    }
  }
  if (out.store === "redis" && out.redis_url === null && !issues.some((i) => i.path[1] === "redis_url"))
    issues.push({ code: "required", path: ["counters", "redis_url"], message: "is required when store is redis" });
  return out;
}
