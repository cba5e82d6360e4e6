import { readFile } from "node:fs/promises";
import {
  type AgentCeilings,
  type Budget,
  CosttrailError,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  DEFAULT_MIN_TIMESTAMP,
  type Issue,
  type IssuePath,
  type PricingConfig,
  formatIssue,
  isPlainObject,
  validateAgentCeilings,
  validateBudgets,
  validatePricingConfig,
} from "@costtrail/core";
import { LineCounter, parseDocument } from "yaml";
import { type AlertSettings, checkAlerts } from "./alerts-config.js";
import { type CounterSettings, checkCounters } from "./counters-config.js";
import { type GatewaySettings, checkGateway } from "./gateway-config.js";

export const SCOPES = ["ingest", "read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ConfiguredKey {
  readonly name: string;
  /** `sha256:<hex>` of the key; the key itself never sits in the file. */
  readonly hash: string;
  readonly scopes: readonly Scope[];
  /** Projects the key may write to or read; null for all. */
  readonly projects: readonly string[] | null;
}

/** costtrail.yaml, checked and frozen. A reload builds a new object; nothing mutates this one. */
export interface CosttrailConfig {
  readonly projects: ReadonlyArray<{ readonly name: string; readonly description?: string }>;
  readonly api_keys: readonly ConfiguredKey[];
  readonly pricing: PricingConfig;
  readonly server: ServerSettings;
  readonly gateway: GatewaySettings;
  readonly budgets: readonly Budget[];
  readonly counters: CounterSettings;
  /** Ceilings per agent name on each of its runs. */
  readonly agent_runs: readonly AgentCeilings[];
  readonly alerts: AlertSettings;
}

export interface ServerSettings {
  /** `server.memory_limit`: what DuckDB and the server's buffers live within (memoryPlan). */
  readonly memory_limit_bytes: number;
  readonly body_limit_bytes: number;
  readonly max_pending_events: number;
  readonly segment_events: number;
  /** `server.max_future_skew`: how far past its arrival an event's time may be. */
  readonly max_future_skew_ms: number;
  /** `server.min_timestamp`: the earliest event time accepted, epoch milliseconds. */
  readonly min_timestamp_ms: number;
  /** `server.idempotency_window`: how long received ids are remembered to catch a reused id. */
  readonly idempotency_window_ms: number;
  /** `server.idempotency_window_events`: at most this many ids are remembered. */
  readonly idempotency_window_events: number;
}

const MiB = 1024 ** 2;
const DEFAULT_MEMORY_LIMIT = 1024 * MiB;
const MIN_MEMORY_LIMIT = 256 * MiB;

/**
 * How `server.memory_limit` is shared out. DuckDB gets 40%: its own limit covers only the
 * memory it manages, and its allocator, query results in flight and Node itself come on top
 * (measured: RSS peaks at about twice DuckDB's limit during compaction and large queries).
 * A live segment's rows wait in DuckDB's memory until it is sealed, at about 1.2 KB each, so a
 * segment takes at most half of DuckDB's share; events waiting for the writer (about 2 KB
 * each on the request thread) take at most 8% of the limit.
 */
export function memoryPlan(limitBytes: number): { duckdbBytes: number; segmentEvents: number; maxPendingEvents: number } {
  const duckdbBytes = Math.floor(limitBytes * 0.4);
  const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.floor(n)));
  return {
    duckdbBytes,
    segmentEvents: clamp((duckdbBytes * 0.5) / 1200, 20_000, 500_000),
    maxPendingEvents: clamp((limitBytes * 0.08) / 2048, 10_000, 200_000),
  };
}

export const DEFAULT_SERVER_SETTINGS: ServerSettings = {
  memory_limit_bytes: DEFAULT_MEMORY_LIMIT,
  body_limit_bytes: 10 * 1024 * 1024,
  max_pending_events: memoryPlan(DEFAULT_MEMORY_LIMIT).maxPendingEvents,
  segment_events: memoryPlan(DEFAULT_MEMORY_LIMIT).segmentEvents,
  max_future_skew_ms: DEFAULT_MAX_FUTURE_SKEW_MS,
  min_timestamp_ms: Date.parse(DEFAULT_MIN_TIMESTAMP),
  idempotency_window_ms: 24 * 3_600_000,
  idempotency_window_events: 2_000_000,
};
const INTEGER_SERVER_KEYS = ["body_limit_bytes", "max_pending_events", "segment_events", "idempotency_window_events"] as const;
const DURATION_SERVER_KEYS = { max_future_skew: "max_future_skew_ms", idempotency_window: "idempotency_window_ms" } as const;
const SERVER_KEYS = ["memory_limit", ...INTEGER_SERVER_KEYS, ...Object.keys(DURATION_SERVER_KEYS), "min_timestamp"] as const;
const SIZE_RE = /^(\d{1,6}(?:\.\d{1,3})?)\s*(KiB|MiB|GiB|TiB|KB|MB|GB|TB)$/;
const SIZE_UNITS: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** "1GiB", "512MiB", "1.5GB" or a number of bytes; null when it is none of these. */
function parseSize(v: unknown): number | null {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v !== "string") return null;
  const m = SIZE_RE.exec(v.trim());
  return m ? Math.floor(Number(m[1]) * (SIZE_UNITS[m[2] as string] as number)) : null;
}
const DURATION_RE = /^(\d{1,7})(s|m|h|d)$/;
const DURATION_UNITS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** Ten years: past that a skew bound protects nothing. */
const MAX_SKEW_MS = 3650 * 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const TOP_LEVEL_KEYS = [
  "version",
  "server",
  "projects",
  "api_keys",
  "pricing",
  "gateway",
  "budgets",
  "counters",
  "agent_runs",
  "alerts",
] as const;
const HASH_RE = /^sha256:[0-9a-f]{64}$/;

/** An issue located in the file: `costtrail.yaml:12:7 pricing.models[0].rates.input_mtok: must be …`. */
export interface ConfigIssue extends Issue {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}:${i.column}`;
  return `${where} ${formatIssue(i)}`;
}

function checkProjects(v: unknown, issues: Issue[]): CosttrailConfig["projects"] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.push({ code: "invalid_type", path: ["projects"], message: "must be a list of {name}" });
    return [];
  }
  const seen = new Set<string>();
  return v.flatMap((p, i) => {
    const name = isPlainObject(p) ? p.name : undefined;
    if (typeof name !== "string" || !/^[\w.-]{1,128}$/.test(name)) {
      issues.push({
        code: "invalid_value",
        path: ["projects", i, "name"],
        message: "must be a project name of letters, digits, '_', '-' or '.'",
      });
      return [];
    }
    if (seen.has(name))
      issues.push({ code: "invalid_value", path: ["projects", i, "name"], message: `duplicates project ${JSON.stringify(name)}` });
    seen.add(name);
    for (const k of Object.keys(p as object)) {
      if (k !== "name" && k !== "description")
        issues.push({ code: "unknown_field", path: ["projects", i, k], message: "is not a known field; expected name, description" });
    }
    const description = (p as Record<string, unknown>).description;
    return [typeof description === "string" ? { name, description } : { name }];
  });
}

function checkKeys(v: unknown, projects: ReadonlySet<string>, issues: Issue[]): ConfiguredKey[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.push({ code: "invalid_type", path: ["api_keys"], message: "must be a list of {name, hash, scopes, projects}" });
    return [];
  }
  return v.flatMap((k, i): ConfiguredKey[] => {
    const p = ["api_keys", i];
    if (!isPlainObject(k)) {
      issues.push({ code: "invalid_type", path: p, message: "must be an object {name, hash, scopes, projects}" });
      return [];
    }
    const before = issues.length;
    for (const key of Object.keys(k)) {
      if (!["name", "hash", "scopes", "projects"].includes(key))
        issues.push({ code: "unknown_field", path: [...p, key], message: "is not a known field; expected name, hash, scopes, projects" });
    }
    if (typeof k.name !== "string" || k.name === "") issues.push({ code: "required", path: [...p, "name"], message: "is required" });
    if (typeof k.hash !== "string" || !HASH_RE.test(k.hash)) {
      issues.push({
        code: "invalid_format",
        path: [...p, "hash"],
        message: "must be sha256:<64 hex digits>; `costtrail keys hash <key>` prints it",
      });
    }
    if (!Array.isArray(k.scopes) || k.scopes.length === 0 || !k.scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
      issues.push({ code: "invalid_value", path: [...p, "scopes"], message: `must be a non-empty list of ${SCOPES.join(", ")}` });
    }
    let limited: string[] | null = null;
    if (k.projects !== undefined) {
      if (!Array.isArray(k.projects) || !k.projects.every((x) => typeof x === "string")) {
        issues.push({ code: "invalid_type", path: [...p, "projects"], message: "must be a list of project names" });
      } else {
        limited = k.projects as string[];
        limited.forEach((name, j) => {
          if (projects.size > 0 && !projects.has(name))
            issues.push({
              code: "invalid_value",
              path: [...p, "projects", j],
              message: `names no project declared under projects: ${JSON.stringify(name)}`,
            });
        });
      }
    }
    if (issues.length > before) return [];
    return [{ name: k.name as string, hash: k.hash as string, scopes: k.scopes as Scope[], projects: limited }];
  });
}

/** "24h", "90m", "7d", "30s" in milliseconds, or null. */
function parseDuration(v: unknown): number | null {
  const m = typeof v === "string" ? DURATION_RE.exec(v) : null;
  if (!m) return null;
  const ms = Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
  return ms > 0 && ms <= MAX_SKEW_MS ? ms : null;
}

/** "2020-01-01" (UTC midnight) or an ISO time with a zone, in epoch milliseconds, or null. */
function parseInstant(v: unknown): number | null {
  const m = typeof v === "string" ? DATE_RE.exec(v) : null;
  if (!m) return null;
  const [, y, mo, d] = m.map(Number) as [number, number, number, number];
  // Date.parse rolls 2026-02-30 over into March.
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return null;
  const ms = Date.parse(m[0].length === 10 ? `${m[0]}T00:00:00Z` : m[0]);
  return Number.isNaN(ms) ? null : ms;
}

function checkServer(v: unknown, issues: Issue[]): ServerSettings {
  const out: { -readonly [K in keyof ServerSettings]: number } = { ...DEFAULT_SERVER_SETTINGS };
  if (v === undefined) return out;
  if (!isPlainObject(v)) {
    issues.push({ code: "invalid_type", path: ["server"], message: "must be an object" });
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (k === "memory_limit") {
      const bytes = parseSize(val);
      if (bytes === null || bytes < MIN_MEMORY_LIMIT)
        issues.push({
          code: "invalid_value",
          path: ["server", k],
          message: `must be a size of at least 256MiB such as "1GiB", "768MiB" or "2GB", got ${JSON.stringify(val)}`,
        });
      else {
        out.memory_limit_bytes = bytes;
        // Unless set themselves, the segment size and the pending-events bound follow the limit.
        const plan = memoryPlan(bytes);
        if (!Object.hasOwn(v, "segment_events")) out.segment_events = plan.segmentEvents;
        if (!Object.hasOwn(v, "max_pending_events")) out.max_pending_events = plan.maxPendingEvents;
      }
    } else if (Object.hasOwn(DURATION_SERVER_KEYS, k)) {
      const ms = parseDuration(val);
      if (ms === null)
        issues.push({
          code: "invalid_value",
          path: ["server", k],
          message: `must be a duration such as "24h", "90m" or "7d" (a whole number of s, m, h or d, at most 3650d), got ${JSON.stringify(val)}`,
        });
      else out[DURATION_SERVER_KEYS[k as keyof typeof DURATION_SERVER_KEYS]] = ms;
    } else if (k === "min_timestamp") {
      const ms = parseInstant(val);
      if (ms === null)
        issues.push({
          code: "invalid_value",
          path: ["server", k],
          message: `must be a date such as "2020-01-01" or an ISO-8601 time with a zone such as "2020-01-01T00:00:00Z", got ${JSON.stringify(val)}`,
        });
      else out.min_timestamp_ms = ms;
    } else if ((INTEGER_SERVER_KEYS as readonly string[]).includes(k)) {
      if (typeof val !== "number" || !Number.isInteger(val) || val < 1)
        issues.push({ code: "invalid_value", path: ["server", k], message: "must be a positive integer" });
      else out[k as (typeof INTEGER_SERVER_KEYS)[number]] = val;
    } else {
      issues.push({
        code: "unknown_field",
        path: ["server", k],
        message: `is not a known field; expected ${SERVER_KEYS.join(", ")}`,
      });
    }
  }
  return out;
}

function checkConfig(value: unknown): { config: CosttrailConfig | null; issues: Issue[] } {
  if (value === null || value === undefined) value = {};
  if (!isPlainObject(value)) {
    return { config: null, issues: [{ code: "invalid_type", path: [], message: "must be a mapping of settings" }] };
  }
  const v = value;
  const issues: Issue[] = [];
  for (const k of Object.keys(v)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) {
      issues.push({ code: "unknown_field", path: [k], message: `is not a known section; expected one of ${TOP_LEVEL_KEYS.join(", ")}` });
    }
  }
  if (v.version !== undefined && v.version !== 1) {
    issues.push({ code: "invalid_value", path: ["version"], message: `must be 1, got ${JSON.stringify(v.version)}` });
  }
  const projects = checkProjects(v.projects, issues);
  const api_keys = checkKeys(v.api_keys, new Set(projects.map((p) => p.name)), issues);
  const server = checkServer(v.server, issues);
  const gateway = checkGateway(v.gateway, issues);
  const counters = checkCounters(v.counters, issues);
  const alerts = checkAlerts(v.alerts, issues);
  const pricing = validatePricingConfig(v.pricing, ["pricing"]);
  if (!pricing.ok) issues.push(...pricing.issues);
  const budgets = validateBudgets(v.budgets, ["budgets"]);
  if (!budgets.ok) issues.push(...budgets.issues);
  if (budgets.ok) {
    const names = new Set(budgets.value.map((b) => b.name));
    for (const [i, r] of alerts.rules.entries()) {
      for (const [j, name] of (r.budgets ?? []).entries()) {
        if (!names.has(name))
          issues.push({
            code: "invalid_value",
            path: ["alerts", "rules", i, "budgets", j],
            message: `names no budget under budgets: ${JSON.stringify(name)}`,
          });
      }
    }
  }
  const agentRuns = validateAgentCeilings(v.agent_runs, ["agent_runs"]);
  if (!agentRuns.ok) issues.push(...agentRuns.issues);
  if (issues.length > 0 || !pricing.ok || !budgets.ok || !agentRuns.ok) return { config: null, issues };
  return {
    config: deepFreeze({
      projects,
      api_keys,
      pricing: pricing.value,
      server,
      gateway,
      budgets: budgets.value,
      counters,
      agent_runs: agentRuns.value,
      alerts,
    }),
    issues: [],
  };
}

/** The configuration used when no file is given. */
export function defaultConfig(): CosttrailConfig {
  return parseConfig("", "(defaults)");
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Parses and checks config text (YAML, of which JSON is a subset). Throws CT_INVALID_CONFIG listing every issue. */
export function parseConfig(text: string, file: string): CosttrailConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { code: "invalid_format", path: [], message: e.message.split("\n")[0] ?? e.message, file, line: pos.line, column: pos.col };
    });
    throw configError(issues);
  }
  const { config, issues } = checkConfig(doc.toJS());
  if (config) return config;
  const located: ConfigIssue[] = issues.map((i) => {
    const node = nodeAt(doc, i.path, i.code === "unknown_field");
    const range = node?.range;
    if (!range) return { ...i, file };
    const pos = lineCounter.linePos(range[0]);
    return { ...i, file, line: pos.line, column: pos.col };
  });
  throw configError(located);
}

function nodeAt(
  doc: ReturnType<typeof parseDocument>,
  path: IssuePath,
  pointAtKey: boolean,
): { range?: [number, number, number] | null } | undefined {
  if (pointAtKey && path.length > 0) {
    // An unknown field is best shown at its key, not its value.
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    const items = (parent as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | null)?.items;
    const pair = items?.find((p) => p.key?.value === path[path.length - 1]);
    if (pair?.key?.range) return pair.key;
  }
  // The deepest node that exists along the path: a missing field points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] | null } | undefined;
    if (node && typeof node === "object" && "range" in node) return node;
  }
  return undefined;
}

function configError(issues: ConfigIssue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_CONFIG", issues.map(formatConfigIssue).join("\n"), { issues });
}

export async function loadConfig(file: string): Promise<CosttrailConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (cause as Error).message;
    throw new CosttrailError("CT_INVALID_CONFIG", `${file}: ${reason}`, {
      cause,
      issues: [{ code: "required", path: [], message: reason }],
    });
  }
  return parseConfig(text, file);
}
