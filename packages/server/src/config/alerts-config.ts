import { Decimal, type Dimension, type Issue, type IssuePath, isDimension, isPlainObject } from "@costtrail/core";

export const DESTINATION_TYPES = ["slack", "pagerduty", "webhook", "log"] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];
export const ALERT_RULE_TYPES = [
  "budget_threshold",
  "budget_forecast",
  "spend_spike",
  "cost_per_request_change",
  "unpriced_model",
  "agent_run_ceiling",
] as const;
export type AlertRuleType = (typeof ALERT_RULE_TYPES)[number];
export const SEVERITIES = ["critical", "error", "warning", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Where alerts go (`log`: a warning line in the server's log, for trying rules out). Secrets (a Slack webhook's URL, a PagerDuty routing key, a webhook's signing
 * secret) are read from the environment variable named here, never written in the file.
 */
export interface AlertDestination {
  readonly name: string;
  readonly type: DestinationType;
  /** Slack: the variable holding the incoming webhook's URL. */
  readonly url_env?: string;
  /** PagerDuty and webhooks: where events are posted (PagerDuty's Events API v2 by default). */
  readonly url?: string;
  /** PagerDuty: the variable holding the integration's routing key. */
  readonly routing_key_env?: string;
  /** Webhook: the variable holding the HMAC-SHA256 signing secret. */
  readonly secret_env?: string;
}

export interface AlertRule {
  readonly name: string;
  readonly type: AlertRuleType;
  readonly destinations: readonly string[];
  /** Budget rules: only these budgets (default all). */
  readonly budgets: readonly string[] | null;
  /** Spend spikes: the series, one per combination of these values. */
  readonly group_by: readonly Dimension[];
  /** Spikes and cost-per-request changes: the window compared, in ms (whole hours). */
  readonly window_ms: number;
  /** The baseline: this many days before the window. */
  readonly baseline_days: number;
  /** Spikes: `ratio` (window > factor × the baseline's average window) or `zscore` (robust, median and MAD). */
  readonly method: "ratio" | "zscore";
  readonly factor: number;
  readonly z: number;
  /** A window below this spend never alerts: exact decimal string. */
  readonly min_usd: string;
  /** Cost-per-request changes: requests the new prompt version needs before it is judged. */
  readonly min_requests: number;
  readonly severity: Severity | null;
}

export interface AlertSettings {
  /** Base of the links in alerts; default the server's own address. */
  readonly dashboard_url: string | null;
  readonly evaluate_every_ms: number;
  readonly destinations: readonly AlertDestination[];
  readonly rules: readonly AlertRule[];
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = { dashboard_url: null, evaluate_every_ms: 60_000, destinations: [], rules: [] };

const NAME_RE = /^[A-Za-z0-9][\w.-]{0,63}$/;
const ENV_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;
const HOURS_RE = /^(\d{1,3})(h|d)$/;
const DESTINATION_FIELDS = ["name", "type", "url_env", "url", "routing_key_env", "secret_env"] as const;
const RULE_FIELDS = [
  "name",
  "type",
  "destinations",
  "budgets",
  "group_by",
  "window",
  "baseline_days",
  "method",
  "factor",
  "z",
  "min_usd",
  "min_requests",
  "severity",
] as const;

function envName(v: unknown, path: IssuePath, issues: Issue[], what: string): string | undefined {
  if (typeof v === "string" && ENV_RE.test(v)) return v;
  issues.push({ code: "invalid_value", path, message: `must name the environment variable holding ${what}, such as SLACK_WEBHOOK_URL` });
  return undefined;
}

function httpUrl(v: unknown, path: IssuePath, issues: Issue[]): string | undefined {
  if (typeof v === "string" && /^https?:\/\//.test(v) && URL.canParse(v)) return v;
  issues.push({ code: "invalid_format", path, message: `must be an http(s) URL, got ${JSON.stringify(v)}` });
  return undefined;
}

function checkDestination(v: unknown, path: IssuePath, issues: Issue[]): AlertDestination | null {
  if (!isPlainObject(v)) {
    issues.push({ code: "invalid_type", path, message: "must be { name, type, … }" });
    return null;
  }
  const before = issues.length;
  for (const k of Object.keys(v))
    if (!(DESTINATION_FIELDS as readonly string[]).includes(k))
      issues.push({
        code: "unknown_field",
        path: [...path, k],
        message: `is not a known field; expected ${DESTINATION_FIELDS.join(", ")}`,
      });
  if (typeof v.name !== "string" || !NAME_RE.test(v.name))
    issues.push({ code: "invalid_value", path: [...path, "name"], message: "must be a name of letters, digits, '_', '-' or '.'" });
  const type = v.type;
  const out: Record<string, unknown> = { name: v.name, type };
  if (type === "slack") {
    out.url_env = envName(v.url_env, [...path, "url_env"], issues, "the incoming webhook's URL");
  } else if (type === "pagerduty") {
    out.routing_key_env = envName(v.routing_key_env, [...path, "routing_key_env"], issues, "the integration's routing key");
    out.url = v.url === undefined ? "https://events.pagerduty.com/v2/enqueue" : httpUrl(v.url, [...path, "url"], issues);
  } else if (type === "webhook") {
    out.url = httpUrl(v.url, [...path, "url"], issues);
    out.secret_env = envName(v.secret_env, [...path, "secret_env"], issues, "the signing secret");
  } else if (type !== "log") {
    issues.push({
      code: "invalid_value",
      path: [...path, "type"],
      message: `must be one of ${DESTINATION_TYPES.join(", ")}, got ${JSON.stringify(type)}`,
    });
  }
  return issues.length > before ? null : (out as unknown as AlertDestination);
}

function positive(v: unknown, dflt: number, path: IssuePath, issues: Issue[], integer: boolean): number {
  if (v === undefined) return dflt;
  if (typeof v === "number" && Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v))) return v;
  issues.push({ code: "invalid_value", path, message: `must be a positive ${integer ? "whole " : ""}number, got ${JSON.stringify(v)}` });
  return dflt;
}

function checkRule(v: unknown, path: IssuePath, destinations: ReadonlySet<string>, issues: Issue[]): AlertRule | null {
  if (!isPlainObject(v)) {
    issues.push({ code: "invalid_type", path, message: "must be { name, type, destinations, … }" });
    return null;
  }
  const before = issues.length;
  for (const k of Object.keys(v))
    if (!(RULE_FIELDS as readonly string[]).includes(k))
      issues.push({ code: "unknown_field", path: [...path, k], message: `is not a known field; expected ${RULE_FIELDS.join(", ")}` });
  if (typeof v.name !== "string" || !NAME_RE.test(v.name))
    issues.push({ code: "invalid_value", path: [...path, "name"], message: "must be a name of letters, digits, '_', '-' or '.'" });
  if (!(ALERT_RULE_TYPES as readonly unknown[]).includes(v.type))
    issues.push({
      code: "invalid_value",
      path: [...path, "type"],
      message: `must be one of ${ALERT_RULE_TYPES.join(", ")}, got ${JSON.stringify(v.type)}`,
    });
  const dests = Array.isArray(v.destinations) ? v.destinations : [];
  if (dests.length === 0)
    issues.push({ code: "required", path: [...path, "destinations"], message: "must list at least one destination by name" });
  dests.forEach((d, i) => {
    if (typeof d !== "string" || !destinations.has(d))
      issues.push({
        code: "invalid_value",
        path: [...path, "destinations", i],
        message: `names no destination under alerts.destinations: ${JSON.stringify(d)}`,
      });
  });
  let budgets: string[] | null = null;
  if (v.budgets !== undefined) {
    if (!Array.isArray(v.budgets) || !v.budgets.every((b) => typeof b === "string"))
      issues.push({ code: "invalid_type", path: [...path, "budgets"], message: "must be a list of budget names" });
    else budgets = v.budgets as string[];
  }
  let groupBy: Dimension[] = ["feature", "environment", "model"];
  if (v.group_by !== undefined) {
    if (!Array.isArray(v.group_by) || v.group_by.length === 0 || v.group_by.length > 4 || !v.group_by.every(isDimension))
      issues.push({ code: "invalid_value", path: [...path, "group_by"], message: "must be 1 to 4 columns or tag.<key>" });
    else groupBy = v.group_by as Dimension[];
  }
  let windowMs = 3_600_000;
  if (v.window !== undefined) {
    const m = typeof v.window === "string" ? HOURS_RE.exec(v.window) : null;
    if (!m || Number(m[1]) === 0)
      issues.push({ code: "invalid_value", path: [...path, "window"], message: 'must be whole hours or days, such as "1h", "6h" or "1d"' });
    else windowMs = Number(m[1]) * (m[2] === "h" ? 3_600_000 : 86_400_000);
  }
  const method = v.method ?? "ratio";
  if (method !== "ratio" && method !== "zscore")
    issues.push({ code: "invalid_value", path: [...path, "method"], message: `must be ratio or zscore, got ${JSON.stringify(method)}` });
  const minUsd = v.min_usd ?? "1";
  const min = typeof minUsd === "string" ? Decimal.tryParse(minUsd) : null;
  if (min === null || min.isNegative())
    issues.push({ code: "invalid_value", path: [...path, "min_usd"], message: 'must be a decimal string such as "1.00"' });
  const severity = v.severity ?? null;
  if (severity !== null && !(SEVERITIES as readonly unknown[]).includes(severity))
    issues.push({ code: "invalid_value", path: [...path, "severity"], message: `must be one of ${SEVERITIES.join(", ")}` });
  const baselineDays = positive(v.baseline_days, 7, [...path, "baseline_days"], issues, true);
  if (windowMs >= baselineDays * 86_400_000)
    issues.push({
      code: "inconsistent",
      path: [...path, "window"],
      message: `must be shorter than the baseline of ${baselineDays} days it is compared with`,
    });
  const rule: AlertRule = {
    name: v.name as string,
    type: v.type as AlertRuleType,
    destinations: dests as string[],
    budgets,
    group_by: groupBy,
    window_ms: windowMs,
    baseline_days: baselineDays,
    method: method as AlertRule["method"],
    factor: positive(v.factor, 1.5, [...path, "factor"], issues, false),
    z: positive(v.z, 3.5, [...path, "z"], issues, false),
    min_usd: min?.toString() ?? "1",
    min_requests: positive(v.min_requests, 20, [...path, "min_requests"], issues, true),
    severity: severity as Severity | null,
  };
  return issues.length > before ? null : rule;
}

/** The `alerts:` section. */
export function checkAlerts(v: unknown, issues: Issue[]): AlertSettings {
  if (v === undefined) return DEFAULT_ALERT_SETTINGS;
  if (!isPlainObject(v)) {
    issues.push({
      code: "invalid_type",
      path: ["alerts"],
      message: "must be a mapping { destinations, rules, dashboard_url, evaluate_every }",
    });
    return DEFAULT_ALERT_SETTINGS;
  }
  for (const k of Object.keys(v))
    if (!["destinations", "rules", "dashboard_url", "evaluate_every"].includes(k))
      issues.push({
        code: "unknown_field",
        path: ["alerts", k],
        message: "is not a known field; expected destinations, rules, dashboard_url, evaluate_every",
      });
  const destinations: AlertDestination[] = [];
  const list = (x: unknown, key: string): unknown[] => {
    if (x === undefined) return [];
    if (Array.isArray(x)) return x;
    issues.push({ code: "invalid_type", path: ["alerts", key], message: "must be a list" });
    return [];
  };
  const names = new Set<string>();
  list(v.destinations, "destinations").forEach((d, i) => {
    const dest = checkDestination(d, ["alerts", "destinations", i], issues);
    if (!dest) return;
    if (names.has(dest.name))
      issues.push({ code: "invalid_value", path: ["alerts", "destinations", i, "name"], message: `duplicates destination ${dest.name}` });
    names.add(dest.name);
    destinations.push(dest);
  });
  // A rule naming a destination that failed its own check is not reported twice.
  const declared = new Set(
    list(v.destinations, "destinations")
      .map((d) => (isPlainObject(d) ? d.name : undefined))
      .filter((n) => typeof n === "string") as string[],
  );
  const rules: AlertRule[] = [];
  const ruleNames = new Set<string>();
  list(v.rules, "rules").forEach((r, i) => {
    const rule = checkRule(r, ["alerts", "rules", i], declared, issues);
    if (!rule) return;
    if (ruleNames.has(rule.name))
      issues.push({ code: "invalid_value", path: ["alerts", "rules", i, "name"], message: `duplicates rule ${rule.name}` });
    ruleNames.add(rule.name);
    rules.push(rule);
  });
  let dashboard: string | null = null;
  if (v.dashboard_url !== undefined) dashboard = httpUrl(v.dashboard_url, ["alerts", "dashboard_url"], issues)?.replace(/\/+$/, "") ?? null;
  let every = DEFAULT_ALERT_SETTINGS.evaluate_every_ms;
  if (v.evaluate_every !== undefined) {
    const m = typeof v.evaluate_every === "string" ? /^(\d{1,4})(s|m)$/.exec(v.evaluate_every) : null;
    const ms = m ? Number(m[1]) * (m[2] === "s" ? 1000 : 60_000) : 0;
    if (ms < 1000 || ms > 3_600_000)
      issues.push({
        code: "invalid_value",
        path: ["alerts", "evaluate_every"],
        message: 'must be a duration from 1s to 60m, such as "30s" or "1m"',
      });
    else every = ms;
  }
  return { dashboard_url: dashboard, evaluate_every_ms: every, destinations, rules };
}
