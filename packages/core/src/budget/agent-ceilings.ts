import { type Issue, type IssuePath, type Result, issue } from "../errors.js";
import { isPlainObject } from "../event/fields.js";
import { Decimal } from "../money/decimal.js";

/**
 * Ceilings on one run of an agent, set per agent name (the `agent` tag). A run that reaches
 * one is stopped while it runs: its next calls are refused.
 */
export interface AgentCeilings {
  readonly agent: string;
  /** Exact decimal string. */
  readonly max_cost_usd?: string;
  readonly max_tokens?: number;
  readonly max_llm_calls?: number;
  readonly max_tool_calls?: number;
  readonly max_retries?: number;
  /** Nesting of child runs: 0 is a run started outside any other. */
  readonly max_depth?: number;
  readonly max_wall_time_ms?: number;
}

export type CeilingName =
  | "max_cost_usd"
  | "max_tokens"
  | "max_llm_calls"
  | "max_tool_calls"
  | "max_retries"
  | "max_depth"
  | "max_wall_time";

/** What a run has used so far. */
export interface RunTally {
  readonly costUsd: Decimal;
  readonly tokens: number;
  readonly llmCalls: number;
  readonly toolCalls: number;
  readonly retries: number;
  readonly depth: number;
  readonly wallTimeMs: number;
}

export interface CeilingBreach {
  readonly ceiling: CeilingName;
  /** What the run has used (or would use with the call in question), and the ceiling, as text. */
  readonly used: string;
  readonly max: string;
}

const COUNT_FIELDS = ["max_tokens", "max_llm_calls", "max_tool_calls", "max_retries", "max_depth"] as const;
const FIELDS = ["agent", "max_cost_usd", ...COUNT_FIELDS, "max_wall_time"] as const;
const WALL_RE = /^(\d{1,6})(s|m|h)$/;
const WALL_UNITS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

function checkOne(v: unknown, path: IssuePath, issues: Issue[]): AgentCeilings | null {
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, "must be { agent, max_cost_usd, max_tokens, max_llm_calls, … }"));
    return null;
  }
  const before = issues.length;
  for (const k of Object.keys(v)) {
    if (!(FIELDS as readonly string[]).includes(k))
      issues.push(issue("unknown_field", [...path, k], `is not a known field; expected ${FIELDS.join(", ")}`));
  }
  if (typeof v.agent !== "string" || v.agent === "" || v.agent.length > 256)
    issues.push(issue("required", [...path, "agent"], "must be the agent's name, as its runs tag it (agent)"));
  const out: Record<string, unknown> = { agent: v.agent };
  if (v.max_cost_usd !== undefined) {
    const d = typeof v.max_cost_usd === "string" ? Decimal.tryParse(v.max_cost_usd) : null;
    if (d === null || d.isNegative() || d.isZero())
      issues.push(
        issue(
          "invalid_value",
          [...path, "max_cost_usd"],
          `must be a positive decimal string such as "2.00", got ${JSON.stringify(v.max_cost_usd)}`,
        ),
      );
    else out.max_cost_usd = d.toString();
  }
  for (const k of COUNT_FIELDS) {
    const n = v[k];
    if (n === undefined) continue;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
      issues.push(issue("invalid_value", [...path, k], `must be a whole number of 0 or more, got ${JSON.stringify(n)}`));
    else out[k] = n;
  }
  if (v.max_wall_time !== undefined) {
    const m = typeof v.max_wall_time === "string" ? WALL_RE.exec(v.max_wall_time) : null;
    if (!m)
      issues.push(
        issue(
          "invalid_value",
          [...path, "max_wall_time"],
          `must be a duration such as "90s", "10m" or "2h", got ${JSON.stringify(v.max_wall_time)}`,
        ),
      );
    else out.max_wall_time_ms = Number(m[1]) * WALL_UNITS[m[2] as keyof typeof WALL_UNITS];
  }
  if (Object.keys(out).length === 1 && issues.length === before)
    issues.push(
      issue(
        "required",
        path,
        "sets no ceiling; give at least one of max_cost_usd, max_tokens, max_llm_calls, max_tool_calls, max_retries, max_depth, max_wall_time",
      ),
    );
  return issues.length > before ? null : (out as unknown as AgentCeilings);
}

/** The `agent_runs:` section: ceilings per agent name. */
export function validateAgentCeilings(v: unknown, path: IssuePath = ["agent_runs"]): Result<AgentCeilings[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  if (!Array.isArray(v)) return { ok: false, issues: [issue("invalid_type", path, "must be a list of { agent, max_… } ceilings")] };
  const issues: Issue[] = [];
  const seen = new Set<string>();
  const out: AgentCeilings[] = [];
  v.forEach((c, i) => {
    const one = checkOne(c, [...path, i], issues);
    if (!one) return;
    if (seen.has(one.agent)) issues.push(issue("invalid_value", [...path, i, "agent"], `duplicates agent ${JSON.stringify(one.agent)}`));
    seen.add(one.agent);
    out.push(one);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
}

/** The first ceiling a run's tally passes; a tally exactly at a ceiling is still within it. */
export function ceilingBreach(c: AgentCeilings, t: RunTally): CeilingBreach | null {
  const over = (ceiling: CeilingName, used: number | undefined, max: number | undefined) =>
    max !== undefined && used !== undefined && used > max ? { ceiling, used: String(used), max: String(max) } : null;
  if (c.max_cost_usd !== undefined && t.costUsd.cmp(Decimal.parse(c.max_cost_usd)) > 0)
    return { ceiling: "max_cost_usd", used: t.costUsd.toString(), max: c.max_cost_usd };
  return (
    over("max_llm_calls", t.llmCalls, c.max_llm_calls) ??
    over("max_tool_calls", t.toolCalls, c.max_tool_calls) ??
    over("max_tokens", t.tokens, c.max_tokens) ??
    over("max_retries", t.retries, c.max_retries) ??
    over("max_depth", t.depth, c.max_depth) ??
    (c.max_wall_time_ms !== undefined && t.wallTimeMs > c.max_wall_time_ms
      ? { ceiling: "max_wall_time" as const, used: `${Math.round(t.wallTimeMs / 1000)}s`, max: `${c.max_wall_time_ms / 1000}s` }
      : null)
  );
}
