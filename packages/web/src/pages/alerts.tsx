import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { queries } from "../api/queries.js";
import type { Alert } from "../api/types.js";
import { relative, when } from "../components/format.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

const SEVERITY_TONE: Record<string, string> = { critical: "bad", error: "bad", warning: "warn", info: "ok" };
const TYPE_LABEL: Record<string, string> = {
  budget_threshold: "Budget threshold",
  budget_forecast: "Budget forecast",
  spend_spike: "Spend spike",
  cost_per_request_change: "Cost per request",
  unpriced_model: "Unpriced model",
  agent_run_ceiling: "Agent run ceiling",
};

/** An alert's link points at this dashboard (by the server's address): followed inside the page when it is. */
function inAppPath(link: string): string | null {
  try {
    const u = new URL(link, window.location.origin);
    return u.origin === window.location.origin ? u.pathname + u.search : null;
  } catch {
    return null;
  }
}

function AlertItem({ a }: { a: Alert }) {
  const path = inAppPath(a.link);
  const failed = a.deliveries.filter((d) => d.state === "failed");
  const pending = a.deliveries.filter((d) => d.state === "pending");
  return (
    <li data-alert={a.id}>
      <div className="row">
        <span>{a.title}</span>
        <span className={`badge ${SEVERITY_TONE[a.severity] ?? ""}`}>{a.severity}</span>
      </div>
      <div className="row small muted" style={{ marginTop: 4 }}>
        <span>
          {TYPE_LABEL[a.type] ?? a.type} · rule {a.rule} · opened {relative(a.opened_at)}
          {a.resolved_at && ` · resolved ${relative(a.resolved_at)}`}
        </span>
        <span>
          {a.deliveries.length === 0
            ? "not sent"
            : failed.length > 0
              ? `${failed.length} delivery failed: ${failed[0]?.last_error ?? ""}`
              : pending.length > 0
                ? "sending…"
                : `sent to ${[...new Set(a.deliveries.map((d) => d.destination))].join(", ")}`}
        </span>
      </div>
      <div className="small" style={{ marginTop: 4 }}>
        {path ? <Link href={path}>Look at it</Link> : <a href={a.link}>Look at it</a>}
        <span className="muted"> · since {when(a.opened_at)}</span>
      </div>
    </li>
  );
}

/** Alerts open now and those resolved lately, with where each was sent and whether it got there. */
export function AlertsPage() {
  const [params, setParams] = useUrlState();
  const state = params.get("state") === "resolved" ? "resolved" : "open";
  const q = useQuery(queries.alerts(state, 200));
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Alerts</h1>
          <p>Thresholds, forecasts, spikes, cost per request changes, unpriced models and runaway agent runs.</p>
        </div>
        <fieldset className="segmented" aria-label="Which alerts">
          {(["open", "resolved"] as const).map((s) => (
            <button type="button" key={s} aria-pressed={state === s} onClick={() => setParams((p) => p.set("state", s), { replace: true })}>
              {s === "open" ? "Open" : "Resolved"}
            </button>
          ))}
        </fieldset>
      </div>
      <section className="card" data-section="alert-list">
        {q.isPending ? (
          <Loading height={240} />
        ) : q.isError ? (
          <ErrorNote error={q.error} retry={() => void q.refetch()} />
        ) : q.data.length === 0 ? (
          <Empty title={state === "open" ? "No open alerts" : "No resolved alerts"}>
            Alert rules are set in the server's configuration file.
          </Empty>
        ) : (
          <ul className="list">
            {q.data.map((a) => (
              <AlertItem key={a.id} a={a} />
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
