import type { AlertRuleType, Severity } from "../config/alerts-config.js";

/** What a rule finds when it is evaluated: one condition per thing that needs attention. */
export interface AlertCondition {
  /** Identifies the condition across evaluations: an alert is opened once per key and resolved when the key is gone. */
  readonly key: string;
  /**
   * How far the condition has gone (a budget's threshold): an open alert whose condition comes
   * back with a higher rank is raised, and its destinations told again.
   */
  readonly rank?: number;
  readonly rule: string;
  readonly type: AlertRuleType;
  readonly severity: Severity;
  /** One line: what happened, with the amounts. */
  readonly title: string;
  /** Who or what it is about: budget and scope, or feature, environment and model, or agent run. */
  readonly scope: Readonly<Record<string, string | null>>;
  /** Amounts as exact decimal strings (USD) or counts. */
  readonly amounts: Readonly<Record<string, string | number>>;
  readonly trace_ids: readonly string[];
  /** Where to look: the dashboard's view of this scope. */
  readonly link: string;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  readonly destination: string;
  readonly action: "trigger" | "resolve";
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly last_error: string | null;
  readonly at: string;
}

/** An alert as it is kept in the store and listed by the API. */
export interface Alert extends AlertCondition {
  readonly id: string;
  readonly state: "open" | "resolved";
  readonly opened_at: string;
  readonly resolved_at: string | null;
  readonly deliveries: readonly Delivery[];
}
