/** The shapes the server's API answers with, as the dashboard reads them. Money is decimal text. */

export interface WhoAmI {
  readonly signed_in: true;
  readonly via: "session" | "key";
  readonly key: { readonly id: string; readonly name: string; readonly scopes: string[]; readonly projects: string[] | null };
}

export type QueryRow = Record<string, string | number | null>;

export interface QueryRequest {
  metrics: string[];
  group_by?: string[];
  grain?: "hour" | "day" | "week" | "month" | null;
  time_zone?: string;
  from: string;
  to: string;
  filters?: Array<{ column: string; op: string; value?: string | string[] }>;
  order_by?: Array<{ metric: string; desc?: boolean } | { column: string; desc?: boolean }>;
  limit?: number;
  other?: boolean;
  distribution?: { metric: string; per: string; stats: string[] };
  pricing?: "recorded" | "current";
}

/** An agent run as the ceilings tally it (GET /v1/agent-runs/:id). */
export interface RunStanding {
  readonly agent_run_id: string;
  readonly agent: string;
  readonly cost_usd: string;
  readonly llm_calls: number;
  readonly tool_calls: number;
  readonly retries: number;
  readonly started_at: string;
  readonly stopped: { readonly ceiling: string; readonly used: string; readonly max: string; readonly at: string } | null;
}

export interface Period {
  readonly from: string;
  readonly to: string;
  readonly cost_usd: string;
  readonly previous_cost_usd: string;
}

export interface SpendSummary {
  readonly time_zone: string;
  readonly as_of: string;
  readonly today: Period;
  readonly week: Period;
  readonly month: Period;
  readonly forecast: {
    readonly month_end_usd: string;
    readonly low_usd: string;
    readonly high_usd: string;
    readonly daily_rate_usd: string;
    readonly history_days: number;
  } | null;
}

export interface BudgetStatus {
  readonly name: string;
  readonly scope: string | null;
  readonly period: string;
  readonly rolling: boolean;
  readonly window: { readonly from: string; readonly to: string };
  readonly limit_usd: string;
  readonly spent_usd: string;
  readonly reserved_usd: string;
  readonly percent: number;
  readonly state: string;
  readonly forecast_exhausted_at: string | null;
  readonly forecast_exhausts_in_period: boolean;
}

export interface Alert {
  readonly id: string;
  readonly key: string;
  readonly scope: Readonly<Record<string, string | null>>;
  readonly amounts: Readonly<Record<string, string | number>>;
  readonly resolved_at: string | null;
  readonly deliveries: ReadonlyArray<{
    readonly destination: string;
    readonly action: string;
    readonly state: string;
    readonly attempts: number;
    readonly last_error: string | null;
    readonly at: string;
  }>;
  readonly rule: string;
  readonly type: string;
  readonly severity: string;
  readonly title: string;
  readonly state: "open" | "resolved";
  readonly opened_at: string;
  readonly link: string;
}

export interface BudgetSeries {
  readonly name: string;
  readonly scope: string | null;
  readonly window: { readonly from: string; readonly to: string };
  readonly limit_usd: string;
  readonly grain: "hour" | "day";
  readonly points: ReadonlyArray<{ readonly bucket: string; readonly cost_usd: string; readonly cumulative_usd: string }>;
}

export interface BudgetOverride {
  readonly id: string;
  readonly budget: string;
  readonly scope: string | null;
  readonly amount_usd: string;
  readonly reason: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly expires_at: string;
  readonly state: "pending" | "approved" | "denied" | "expired";
  readonly decided_by: string | null;
  readonly decided_at: string | null;
  readonly note: string | null;
}
