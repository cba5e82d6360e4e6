import { type Issue, type IssuePath, type Result, issue } from "../errors.js";
import { isPlainObject } from "../event/fields.js";
import { ATTRIBUTION_COLUMNS } from "../event/usage-event.js";
import { Decimal } from "../money/decimal.js";
import { isTimeZone } from "../time/time-zone.js";

export const BUDGET_PERIODS = ["day", "week", "month"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const BUDGET_ACTION_KINDS = ["alert", "block", "downgrade", "require_override"] as const;
export type BudgetActionKind = (typeof BUDGET_ACTION_KINDS)[number];

/** An attribution column, provider or model, or `tag.<key>`. */
export type BudgetKey = string;

export interface BudgetAction {
  /** Percent of the limit at which the action starts, e.g. 80 or 100 (above 100 is allowed). */
  readonly at_percent: number;
  readonly action: BudgetActionKind;
  /** The cheaper model a downgrade sends the call to. */
  readonly model?: string;
}

/**
 * What an unpriced model's call counts as. It never counts as $0: either the call is refused
 * before it is sent, or it is charged at these rates (USD per million tokens).
 */
export type UnpricedPolicy =
  | { readonly mode: "block" }
  | { readonly mode: "fallback"; readonly input_mtok: string; readonly output_mtok: string };

export interface Budget {
  readonly name: string;
  /** Every key must equal one of its values for a call to be in the budget. Empty: every call. */
  readonly match: Readonly<Record<BudgetKey, readonly string[]>>;
  /** One budget per value of this key (e.g. each customer_id); calls without a value are outside it. */
  readonly each_value_of: BudgetKey | null;
  readonly period: BudgetPeriod;
  /** A window of the period's length ending now, instead of the calendar period in `time_zone`. */
  readonly rolling: boolean;
  readonly time_zone: string;
  /** Exact decimal string. */
  readonly limit_usd: string;
  /** Sorted by `at_percent`. */
  readonly actions: readonly BudgetAction[];
  readonly unpriced: UnpricedPolicy;
  /** Cut a streamed answer off once its running cost leaves no room in the budget. */
  readonly cut_streams: boolean;
}

const NAME_RE = /^[A-Za-z0-9][\w.-]{0,127}$/;
const TAG_KEY_RE = /^tag\.[A-Za-z_][\w.-]{0,63}$/;
const MATCH_COLUMNS: readonly string[] = [...ATTRIBUTION_COLUMNS, "provider", "model"];
const BUDGET_FIELDS = [
  "name",
  "match",
  "each_value_of",
  "period",
  "rolling",
  "time_zone",
  "limit_usd",
  "actions",
  "unpriced",
  "cut_streams",
] as const;
/** The highest threshold accepted: a budget watched at 10× its limit is still a budget, 100× is a typo. */
const MAX_PERCENT = 1000;

export function isBudgetKey(v: unknown): v is BudgetKey {
  return typeof v === "string" && (MATCH_COLUMNS.includes(v) || TAG_KEY_RE.test(v));
}

function checkKey(v: unknown, path: IssuePath, issues: Issue[]): BudgetKey | null {
  if (isBudgetKey(v)) return v;
  issues.push(
    issue("invalid_value", path, `must be an attribution column (${MATCH_COLUMNS.join(", ")}) or tag.<key>, got ${JSON.stringify(v)}`),
  );
  return null;
}

function checkMoney(v: unknown, path: IssuePath, issues: Issue[], what: string): string | null {
  if (typeof v !== "string") {
    issues.push(
      issue(
        "invalid_type",
        path,
        `must be ${what} as a quoted decimal string such as "5.00" (money is never a binary float), got ${JSON.stringify(v)}`,
      ),
    );
    return null;
  }
  const d = Decimal.tryParse(v);
  if (d === null || d.isNegative() || d.isZero()) {
    issues.push(issue("invalid_value", path, `must be a positive decimal such as "5.00", got ${JSON.stringify(v)}`));
    return null;
  }
  if (d.scale > 9) {
    issues.push(issue("invalid_value", path, `must have at most 9 decimal places, got ${JSON.stringify(v)}`));
    return null;
  }
  return d.toString();
}

function checkMatch(v: unknown, path: IssuePath, issues: Issue[]): Record<string, string[]> {
  if (v === undefined) return {};
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, "must be a mapping such as { feature: search } or { tag.queue: [billing, refunds] }"));
    return {};
  }
  const out: Record<string, string[]> = {};
  for (const [k, value] of Object.entries(v)) {
    if (checkKey(k, [...path, k], issues) === null) continue;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || !values.every((x) => typeof x === "string" && x !== "")) {
      issues.push(issue("invalid_value", [...path, k], "must be a non-empty string or a non-empty list of them"));
      continue;
    }
    out[k] = values as string[];
  }
  return out;
}

function checkActions(v: unknown, path: IssuePath, issues: Issue[]): BudgetAction[] {
  if (!Array.isArray(v) || v.length === 0) {
    issues.push(
      issue("required", path, "must be a non-empty list such as [{ at_percent: 80, action: alert }, { at_percent: 100, action: block }]"),
    );
    return [];
  }
  const out: BudgetAction[] = [];
  v.forEach((a, i) => {
    const p = [...path, i];
    if (!isPlainObject(a)) {
      issues.push(issue("invalid_type", p, "must be { at_percent, action } (and model for a downgrade)"));
      return;
    }
    const before = issues.length;
    for (const k of Object.keys(a)) {
      if (!["at_percent", "action", "model"].includes(k))
        issues.push(issue("unknown_field", [...p, k], "is not a known field; expected at_percent, action, model"));
    }
    const pct = a.at_percent;
    // 80.01 * 100 is 8000.999999999999 in binary: two decimals are checked with a tolerance.
    if (
      typeof pct !== "number" ||
      !Number.isFinite(pct) ||
      pct <= 0 ||
      pct > MAX_PERCENT ||
      Math.abs(Math.round(pct * 100) - pct * 100) > 1e-6
    ) {
      issues.push(
        issue(
          "invalid_value",
          [...p, "at_percent"],
          `must be a percent above 0 and at most ${MAX_PERCENT}, with at most 2 decimals, got ${JSON.stringify(pct)}`,
        ),
      );
    }
    const kind = a.action;
    if (!(BUDGET_ACTION_KINDS as readonly unknown[]).includes(kind)) {
      issues.push(
        issue("invalid_value", [...p, "action"], `must be one of ${BUDGET_ACTION_KINDS.join(", ")}, got ${JSON.stringify(kind)}`),
      );
    } else if (kind === "downgrade" && (typeof a.model !== "string" || a.model === "")) {
      issues.push(issue("required", [...p, "model"], "is required for a downgrade: the cheaper model to send the call to"));
    } else if (kind !== "downgrade" && a.model !== undefined) {
      issues.push(issue("unknown_field", [...p, "model"], "is only for action downgrade"));
    }
    if (issues.length > before) return;
    out.push({ at_percent: pct as number, action: kind as BudgetActionKind, ...(kind === "downgrade" && { model: a.model as string }) });
  });
  const caps = out.filter((a) => a.action !== "alert");
  for (let i = 0; i < caps.length; i++) {
    for (let j = i + 1; j < caps.length; j++) {
      if ((caps[i] as BudgetAction).at_percent === (caps[j] as BudgetAction).at_percent)
        issues.push(
          issue(
            "inconsistent",
            path,
            `has two enforcing actions at ${(caps[i] as BudgetAction).at_percent}% (${(caps[i] as BudgetAction).action} and ${(caps[j] as BudgetAction).action}); give each its own threshold`,
          ),
        );
    }
  }
  out.sort((a, b) => a.at_percent - b.at_percent);
  const cap = out.find((a) => a.action === "block" || a.action === "require_override");
  for (const a of out) {
    if (a.action === "downgrade" && cap && a.at_percent >= cap.at_percent)
      issues.push(
        issue(
          "inconsistent",
          path,
          `has a downgrade at ${a.at_percent}% that never applies: the ${cap.action} at ${cap.at_percent}% refuses calls first`,
        ),
      );
  }
  return out;
}

function checkUnpriced(v: unknown, path: IssuePath, issues: Issue[]): UnpricedPolicy {
  if (v === undefined || v === "block") return { mode: "block" };
  if (isPlainObject(v)) {
    const before = issues.length;
    for (const k of Object.keys(v)) {
      if (k !== "input_mtok" && k !== "output_mtok")
        issues.push(issue("unknown_field", [...path, k], "is not a known field; expected input_mtok, output_mtok"));
    }
    const input = checkMoney(v.input_mtok, [...path, "input_mtok"], issues, "the fallback input rate in USD per million tokens");
    const output = checkMoney(v.output_mtok, [...path, "output_mtok"], issues, "the fallback output rate in USD per million tokens");
    if (issues.length === before && input !== null && output !== null) return { mode: "fallback", input_mtok: input, output_mtok: output };
    return { mode: "block" };
  }
  issues.push(
    issue(
      "invalid_value",
      path,
      'must be "block" or fallback rates { input_mtok: "10.00", output_mtok: "30.00" }, so that an unpriced call never counts as $0',
    ),
  );
  return { mode: "block" };
}

function checkBudget(b: unknown, path: IssuePath, issues: Issue[]): Budget | null {
  if (!isPlainObject(b)) {
    issues.push(issue("invalid_type", path, "must be a budget { name, match, period, limit_usd, actions }"));
    return null;
  }
  const before = issues.length;
  for (const k of Object.keys(b)) {
    if (!(BUDGET_FIELDS as readonly string[]).includes(k))
      issues.push(issue("unknown_field", [...path, k], `is not a known field; expected ${BUDGET_FIELDS.join(", ")}`));
  }
  if (typeof b.name !== "string" || !NAME_RE.test(b.name))
    issues.push(issue("invalid_value", [...path, "name"], "must be a name of letters, digits, '_', '-' or '.' (at most 128)"));
  const match = checkMatch(b.match, [...path, "match"], issues);
  const eachValueOf = b.each_value_of === undefined ? null : checkKey(b.each_value_of, [...path, "each_value_of"], issues);
  if (eachValueOf !== null && match[eachValueOf] !== undefined && (match[eachValueOf] as string[]).length === 1)
    issues.push(issue("inconsistent", [...path, "each_value_of"], `is ${eachValueOf}, which match already pins to one value`));
  if (!(BUDGET_PERIODS as readonly unknown[]).includes(b.period))
    issues.push(
      issue("invalid_value", [...path, "period"], `must be one of ${BUDGET_PERIODS.join(", ")}, got ${JSON.stringify(b.period)}`),
    );
  if (b.rolling !== undefined && typeof b.rolling !== "boolean")
    issues.push(issue("invalid_type", [...path, "rolling"], "must be true or false"));
  if (b.cut_streams !== undefined && typeof b.cut_streams !== "boolean")
    issues.push(issue("invalid_type", [...path, "cut_streams"], "must be true or false"));
  const timeZone = b.time_zone ?? "UTC";
  if (typeof timeZone !== "string" || !isTimeZone(timeZone))
    issues.push(
      issue("invalid_value", [...path, "time_zone"], `must be an IANA time zone such as "Europe/Berlin", got ${JSON.stringify(timeZone)}`),
    );
  else if (b.rolling === true && b.time_zone !== undefined)
    issues.push(issue("inconsistent", [...path, "time_zone"], "has no effect on a rolling budget; remove it or set rolling: false"));
  const limit = checkMoney(b.limit_usd, [...path, "limit_usd"], issues, "the limit in USD");
  const actions = checkActions(b.actions, [...path, "actions"], issues);
  const unpriced = checkUnpriced(b.unpriced, [...path, "unpriced"], issues);
  if (issues.length > before || limit === null) return null;
  return {
    name: b.name as string,
    match,
    each_value_of: eachValueOf,
    period: b.period as BudgetPeriod,
    rolling: b.rolling === true,
    time_zone: timeZone as string,
    limit_usd: limit,
    actions,
    unpriced,
    cut_streams: b.cut_streams === true,
  };
}

/** The `budgets:` section of costtrail.yaml: every problem reported with its path, none thrown. */
export function validateBudgets(v: unknown, path: IssuePath = ["budgets"]): Result<Budget[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  const issues: Issue[] = [];
  if (!Array.isArray(v)) return { ok: false, issues: [issue("invalid_type", path, "must be a list of budgets")] };
  const seen = new Set<string>();
  const budgets: Budget[] = [];
  v.forEach((b, i) => {
    const budget = checkBudget(b, [...path, i], issues);
    if (!budget) return;
    if (seen.has(budget.name))
      issues.push(issue("invalid_value", [...path, i, "name"], `duplicates budget ${JSON.stringify(budget.name)}`));
    seen.add(budget.name);
    budgets.push(budget);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: budgets };
}
