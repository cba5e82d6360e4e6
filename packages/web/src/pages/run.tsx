import { useQuery } from "@tanstack/react-query";
import Big from "big.js";
import { useMemo } from "react";
import { Link, useLocation, useParams } from "wouter";
import { api } from "../api/client.js";
import { queries, sumDecimals } from "../api/queries.js";
import { CumulativeCost } from "../components/charts.js";
import { int, when } from "../components/format.js";
import { Money } from "../components/money.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { type EventRecord, eventHref } from "./events.js";

/** The token buckets a timeline row shows, in the order a reader expects them. */
const BUCKETS = [
  ["input_tokens", "In"],
  ["cache_read_tokens", "Cached"],
  ["cache_write_tokens", "Cache write"],
  ["output_tokens", "Out"],
  ["reasoning_tokens", "Reasoning"],
] as const;
const TOOL_OPERATIONS = new Set(["tool_call", "web_search"]);
/** A run longer than this many calls shows its latest ones. */
const MAX_CALLS = 5000;

function toolCalls(e: EventRecord): number {
  const units = e.units as Record<string, number> | undefined;
  return (TOOL_OPERATIONS.has(String(e.operation ?? "")) ? 1 : 0) + (units?.tool_calls ?? 0);
}

function offset(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `+${s}s` : s < 3600 ? `+${Math.floor(s / 60)}m ${s % 60}s` : `+${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** One agent run: what it cost, and each of its calls in order with tokens by bucket, cost, retries and tool calls. */
export function RunPage() {
  const { id } = useParams<{ id: string }>();
  const [, navigate] = useLocation();
  const runId = decodeURIComponent(id ?? "");
  const events = useQuery({
    queryKey: ["run-events", runId],
    queryFn: async ({ signal }) => {
      // Newest first, a page at a time, up to MAX_CALLS: a runaway run can have thousands.
      const all: EventRecord[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ agent_run_id: runId, from: "2020-01-01T00:00:00Z", limit: "1000" });
        if (cursor) q.set("cursor", cursor);
        const page: { events: EventRecord[]; next_cursor: string | null } = await api.get(`/v1/events?${q}`, signal);
        all.push(...page.events);
        cursor = page.next_cursor;
      } while (cursor && all.length < MAX_CALLS);
      return { events: all, next_cursor: cursor };
    },
  });
  // A run a ceiling stopped is in the server's list of stopped runs (while it still holds the run).
  const stopped = useQuery(queries.stoppedRuns());
  const calls = useMemo(() => [...(events.data?.events ?? [])].reverse(), [events.data]);
  const summary = useMemo(() => {
    if (calls.length === 0) return null;
    const start = Date.parse(calls[0]?.timestamp ?? "");
    const end = Date.parse(calls.at(-1)?.timestamp ?? "");
    let running = new Big(0);
    const cumulative = calls.map((e) => (running = running.plus(String(e.cost_usd ?? "0"))).toFixed());
    return {
      start,
      end,
      cost: sumDecimals(calls.map((e) => e.cost_usd as string | null)),
      retries: calls.filter((e) => Number(e.attempt ?? 1) > 1).length,
      errors: calls.filter((e) => e.status !== "ok").length,
      tools: calls.reduce((s, e) => s + toolCalls(e), 0),
      models: [...new Set(calls.map((e) => String(e.model)))],
      features: [...new Set(calls.map((e) => String(e.feature ?? "")))].filter(Boolean),
      cumulative,
    };
  }, [calls]);

  if (events.isPending) return <Loading height={400} />;
  if (events.isError)
    return (
      <div className="card">
        <ErrorNote error={events.error} retry={() => void events.refetch()} />
      </div>
    );
  if (!summary)
    return (
      <div className="card">
        <Empty title={`No calls of the run ${runId}`}>It may belong to a project this key cannot read.</Empty>
      </div>
    );
  const stop = stopped.data?.find((r) => r.agent_run_id === runId)?.stopped ?? null;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>
            Run <span className="mono">{runId}</span>
          </h1>
          <p>
            {summary.features.join(", ")} · {when(new Date(summary.start).toISOString())} · {offset(summary.end - summary.start).slice(1)}{" "}
            long
          </p>
        </div>
        <Link href="/runs">All runs</Link>
      </div>
      {stop && (
        <div className="banner" role="status" data-testid="run-stopped">
          Stopped by its {stop.ceiling} ceiling at {when(stop.at)}: {stop.used} used of {stop.max}.
        </div>
      )}
      <div className="stack">
        <div className="grid stats">
          <div className="card" data-stat="run-cost">
            <div className="stat-label">Cost</div>
            <div className="stat-value">
              <Money value={summary.cost} />
            </div>
            <span className="stat-sub">{summary.models.join(", ")}</span>
          </div>
          <div className="card">
            <div className="stat-label">Calls</div>
            <div className="stat-value" data-testid="run-calls">
              {int(calls.length)}
            </div>
            <span className="stat-sub">{events.data.next_cursor ? `the latest ${int(calls.length)} shown` : "every call of the run"}</span>
          </div>
          <div className="card">
            <div className="stat-label">Retries and errors</div>
            <div className="stat-value">
              {int(summary.retries)} <span className="muted small">/ {int(summary.errors)}</span>
            </div>
            <span className="stat-sub">Calls that were a retry / that failed</span>
          </div>
          <div className="card">
            <div className="stat-label">Tool calls</div>
            <div className="stat-value">{int(summary.tools)}</div>
            <span className="stat-sub">Tool-call events and provider-run tools</span>
          </div>
        </div>
        <section className="card">
          <div className="card-head">
            <h2>Cost as the run went on</h2>
          </div>
          <CumulativeCost labels={calls.map((e) => offset(Date.parse(e.timestamp) - summary.start))} values={summary.cumulative} />
        </section>
        <section className="card">
          <div className="card-head">
            <h2>Timeline of calls</h2>
            <span className="hint">Click a call for every field and its raw usage</span>
          </div>
          <div className="table-scroll">
            <table data-testid="run-timeline">
              <thead>
                <tr>
                  <th>#</th>
                  <th>When</th>
                  <th>Model</th>
                  {BUCKETS.map(([k, label]) => (
                    <th key={k} className="num">
                      {label}
                    </th>
                  ))}
                  <th className="num">Tools</th>
                  <th className="num">Cost</th>
                  <th>Outcome</th>
                </tr>
              </thead>
              <tbody>
                {calls.map((e, i) => (
                  <tr key={e.id} className="clickable" onClick={() => navigate(eventHref(e))}>
                    <td className="muted">{i + 1}</td>
                    <td className="nowrap" title={when(e.timestamp)}>
                      {offset(Date.parse(e.timestamp) - summary.start)}
                    </td>
                    <td className="truncate">{String(e.model)}</td>
                    {BUCKETS.map(([k]) => (
                      <td key={k} className="num">
                        {typeof e[k] === "number" ? int(e[k] as number) : <span className="muted">—</span>}
                      </td>
                    ))}
                    <td className="num">{toolCalls(e) || <span className="muted">—</span>}</td>
                    <td className="num">
                      <Money value={(e.cost_usd as string | null) ?? null} />
                    </td>
                    <td>
                      <span className={`badge ${e.status === "ok" ? "" : "bad"}`}>{String(e.status)}</span>
                      {Number(e.attempt ?? 1) > 1 && <span className="badge warn"> retry {String(e.attempt)}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </div>
    </>
  );
}
