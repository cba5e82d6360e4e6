import Big from "big.js";
import { api } from "./client.js";
import type { Alert, BudgetOverride, BudgetSeries, BudgetStatus, QueryRequest, QueryRow, RunStanding, SpendSummary } from "./types.js";

/** React Query keys and fetchers for the API's read routes. */
export const queries = {
  summary: (timeZone: string) => ({
    queryKey: ["summary", timeZone],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api.get<SpendSummary>(`/v1/spend/summary?time_zone=${encodeURIComponent(timeZone)}`, signal),
  }),
  rollup: (body: QueryRequest) => ({
    queryKey: ["query", body],
    queryFn: ({ signal }: { signal: AbortSignal }) => api.post<{ rows: QueryRow[] }>("/v1/query", body, signal).then((r) => r.rows),
  }),
  tagKeys: (from: string, to: string) => ({
    queryKey: ["tags", from, to],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api
        .get<{ tags: Array<{ key: string; events: number }> }>(
          `/v1/tags?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
          signal,
        )
        .then((r) => r.tags),
  }),
  stoppedRuns: () => ({
    queryKey: ["runs", "stopped"],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api
        .get<{ runs: Array<RunStanding & { reason?: string }> }>("/v1/agent-runs/stopped", signal)
        .then((r) =>
          r.runs.map((run) => ({ ...run, reason: run.stopped ? `${run.stopped.ceiling}: ${run.stopped.used} of ${run.stopped.max}` : "" })),
        ),
  }),
  budgets: () => ({
    queryKey: ["budgets"],
    queryFn: ({ signal }: { signal: AbortSignal }) => api.get<{ budgets: BudgetStatus[] }>("/v1/budgets", signal).then((r) => r.budgets),
  }),
  budgetSeries: (name: string, scope: string | null) => ({
    queryKey: ["budget-series", name, scope],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api.get<BudgetSeries>(
        `/v1/budgets/${encodeURIComponent(name)}/series${scope === null ? "" : `?scope=${encodeURIComponent(scope)}`}`,
        signal,
      ),
  }),
  overrides: () => ({
    queryKey: ["overrides"],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api.get<{ overrides: BudgetOverride[] }>("/v1/budgets/overrides", signal).then((r) => r.overrides),
  }),
  alerts: (state: "open" | "resolved", limit: number) => ({
    queryKey: ["alerts", state, limit],
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      api.get<{ alerts: Alert[] }>(`/v1/alerts?state=${state}&limit=${limit}`, signal).then((r) => r.alerts),
  }),
};

/** A sum of exact decimals (shares, "Other"), kept exact. */
export function sumDecimals(values: Iterable<string | number | null | undefined>): string {
  let total = new Big(0);
  for (const v of values) total = total.plus(String(v ?? "0"));
  return total.toFixed();
}
