import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { ApiError, api } from "../api/client.js";
import { queries } from "../api/queries.js";
import { useSession } from "../api/session.js";
import type { BudgetOverride, BudgetStatus } from "../api/types.js";
import { BurnDown } from "../components/charts.js";
import { bucketLabel, percent, relative, when } from "../components/format.js";
import { budgetTone, runOutText } from "../components/budget-standing.js";
import { Money } from "../components/money.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

const STATE_TONE: Record<string, string> = { ok: "ok", alerting: "warn", downgrading: "warn", blocked: "bad" };

const keyOf = (b: { name: string; scope: string | null }) => `${b.name}\u0000${b.scope ?? ""}`;

function BurnDownPanel({ budget }: { budget: BudgetStatus }) {
  const q = useQuery(queries.budgetSeries(budget.name, budget.scope));
  return (
    <section className="card" data-section="burn-down">
      <div className="card-head">
        <h2>
          {budget.name}
          {budget.scope !== null && <span className="muted"> · {budget.scope}</span>}
        </h2>
        <span className="hint">
          {budget.rolling ? `The last ${budget.period}` : `This ${budget.period}`}, from {when(budget.window.from)}
        </span>
      </div>
      {q.isPending ? (
        <Loading height={260} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : q.data.points.length === 0 ? (
        <Empty title="Nothing spent in this window yet" />
      ) : (
        <BurnDown
          labels={q.data.points.map((p) => bucketLabel(p.bucket, q.data.grain))}
          cumulative={q.data.points.map((p) => p.cumulative_usd)}
          limit={q.data.limit_usd}
        />
      )}
      <div className="row small muted" style={{ marginTop: 8 }}>
        <span>
          <Money value={budget.spent_usd} /> spent, <Money value={budget.reserved_usd} /> reserved by calls in flight, of{" "}
          <Money value={budget.limit_usd} />
        </span>
        <span>{runOutText(budget)}</span>
      </div>
    </section>
  );
}

function Overrides({ isAdmin }: { isAdmin: boolean }) {
  const q = useQuery(queries.overrides());
  const client = useQueryClient();
  const [notes, setNotes] = useState<Record<string, string>>({});
  const decide = useMutation({
    mutationFn: ({ id, approve }: { id: string; approve: boolean }) =>
      api.post<BudgetOverride>(
        `/v1/budgets/overrides/${encodeURIComponent(id)}/${approve ? "approve" : "deny"}`,
        notes[id] ? { note: notes[id] } : {},
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["overrides"] });
      void client.invalidateQueries({ queryKey: ["budgets"] });
    },
  });
  const pending = (q.data ?? []).filter((o) => o.state === "pending");
  const decided = (q.data ?? []).filter((o) => o.state !== "pending").slice(0, 10);
  return (
    <section className="card" data-section="overrides">
      <div className="card-head">
        <h2>Requests to exceed a budget</h2>
        <span className="hint">{isAdmin ? "Approve or deny" : "An admin decides"}</span>
      </div>
      {q.isPending ? (
        <Loading height={120} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : (q.data ?? []).length === 0 ? (
        <Empty title="No requests">A budget at its limit with require_override refuses calls until an admin approves a request.</Empty>
      ) : (
        <ul className="list">
          {pending.map((o) => (
            <li key={o.id} data-override={o.id} data-state="pending">
              <div className="row">
                <span>
                  <strong>{o.budget}</strong>
                  {o.scope !== null && <span className="muted"> · {o.scope}</span>} · +<Money value={o.amount_usd} /> until{" "}
                  {when(o.expires_at)}
                </span>
                <span className="badge warn">pending</span>
              </div>
              <p className="small" style={{ margin: "4px 0" }}>
                “{o.reason}”{" "}
                <span className="muted">
                  — {o.requested_by}, {relative(o.requested_at)}
                </span>
              </p>
              {isAdmin && (
                <div className="chips">
                  <input
                    aria-label={`Note on ${o.id}`}
                    placeholder="Note (optional)"
                    value={notes[o.id] ?? ""}
                    onChange={(e) => setNotes((n) => ({ ...n, [o.id]: e.target.value }))}
                    size={28}
                  />
                  <button
                    type="button"
                    className="primary"
                    disabled={decide.isPending}
                    onClick={() => decide.mutate({ id: o.id, approve: true })}
                  >
                    Approve
                  </button>
                  <button type="button" disabled={decide.isPending} onClick={() => decide.mutate({ id: o.id, approve: false })}>
                    Deny
                  </button>
                </div>
              )}
            </li>
          ))}
          {decided.map((o) => (
            <li key={o.id} data-override={o.id} data-state={o.state}>
              <div className="row small">
                <span>
                  <strong>{o.budget}</strong>
                  {o.scope !== null && <span className="muted"> · {o.scope}</span>} · +<Money value={o.amount_usd} />
                </span>
                <span className={`badge ${o.state === "approved" ? "ok" : ""}`}>{o.state}</span>
              </div>
              <div className="small muted">
                {o.decided_by
                  ? `${o.state} by ${o.decided_by} ${o.decided_at ? relative(o.decided_at) : ""}`
                  : `expired ${relative(o.expires_at)}`}
                {o.note ? ` · “${o.note}”` : ""}
              </div>
            </li>
          ))}
        </ul>
      )}
      {decide.isError && (
        <p className="small" role="alert" style={{ color: "var(--bad)" }}>
          {decide.error instanceof ApiError ? decide.error.message : "The decision was not recorded"}
        </p>
      )}
    </section>
  );
}

/** Every budget's standing, the burn-down of the one picked, and the requests to exceed one. */
export function BudgetsPage() {
  const { state } = useSession();
  const isAdmin = state.status === "signed-in" && state.who.key.scopes.includes("admin");
  const q = useQuery(queries.budgets());
  const [params, setParams] = useUrlState();
  const [filter, setFilter] = useState("");
  const sorted = useMemo(
    () =>
      (q.data ?? [])
        .filter((b) => filter === "" || `${b.name} ${b.scope ?? ""}`.toLowerCase().includes(filter.toLowerCase()))
        .sort((a, b) => Number(b.forecast_exhausts_in_period) - Number(a.forecast_exhausts_in_period) || b.percent - a.percent),
    [q.data, filter],
  );
  const picked =
    (q.data ?? []).find((b) => b.name === params.get("budget") && (b.scope ?? "") === (params.get("scope") ?? "")) ?? sorted[0] ?? null;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Budgets</h1>
          <p>Spend against each limit now, with the calls in flight; the fastest burning first.</p>
        </div>
        <input
          type="search"
          placeholder="Find a budget or scope"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          aria-label="Find a budget"
        />
      </div>
      <div className="stack">
        {picked && <BurnDownPanel budget={picked} />}
        <div className="grid two">
          <section className="card" data-section="budget-list">
            <div className="card-head">
              <h2>{q.data ? `${sorted.length} of ${q.data.length}` : "Budgets"}</h2>
              <span className="hint">Pick one for its burn-down</span>
            </div>
            {q.isPending ? (
              <Loading height={300} />
            ) : q.isError ? (
              <ErrorNote error={q.error} retry={() => void q.refetch()} />
            ) : sorted.length === 0 ? (
              <Empty title={q.data.length === 0 ? "No budgets" : "No budget matches"}>
                {q.data.length === 0 ? "Budgets are set in the server's configuration file (docs/budgets.md)." : null}
              </Empty>
            ) : (
              <ul className="list budget-list">
                {sorted.map((b) => (
                  <li key={keyOf(b)} aria-current={picked && keyOf(picked) === keyOf(b) ? "true" : undefined}>
                    <button
                      type="button"
                      className="plain"
                      onClick={() =>
                        setParams(
                          (p) => {
                            p.set("budget", b.name);
                            if (b.scope === null) p.delete("scope");
                            else p.set("scope", b.scope);
                          },
                          { replace: true },
                        )
                      }
                    >
                      <div className="row small">
                        <span>
                          <strong>{b.name}</strong>
                          {b.scope !== null && <span className="muted"> · {b.scope}</span>}
                          <span className="muted"> · {b.rolling ? `rolling ${b.period}` : b.period}</span>
                        </span>
                        <span className={`badge ${STATE_TONE[b.state] ?? ""}`}>{b.state}</span>
                      </div>
                      <div className={`meter ${budgetTone(b)}`} style={{ margin: "6px 0 4px" }}>
                        <div style={{ width: `${Math.min(100, b.percent)}%` }} />
                      </div>
                      <div className="row small muted">
                        <span>
                          <Money value={b.spent_usd} /> of <Money value={b.limit_usd} /> · {percent(b.percent)}
                        </span>
                      </div>
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <Overrides isAdmin={isAdmin} />
        </div>
      </div>
    </>
  );
}
