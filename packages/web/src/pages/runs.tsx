import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "wouter";
import { queries } from "../api/queries.js";
import type { QueryRow } from "../api/types.js";
import { DistributionBars } from "../components/charts.js";
import { int, localTimeZone } from "../components/format.js";
import { Money } from "../components/money.js";
import { type Column, SortableTable } from "../components/sortable-table.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

const DAY = 86_400_000;
const RANGES = [
  { key: "7d", label: "7 days", days: 7 },
  { key: "30d", label: "30 days", days: 30 },
] as const;
const STATS = ["p50", "p90", "p99", "max"] as const;

/** Cost per agent run: its spread by feature, the most expensive runs, and the runs a ceiling stopped. */
export function RunsPage() {
  const [params, setParams] = useUrlState();
  const range = RANGES.find((r) => r.key === params.get("range")) ?? RANGES[1];
  const [now] = useState(() => Date.now());
  const span = { from: new Date(now - range.days * DAY).toISOString(), to: new Date(now).toISOString(), time_zone: localTimeZone() };
  const runsOnly = [{ column: "agent_run_id", op: "exists" }];
  const spread = useQuery(
    queries.rollup({
      ...span,
      metrics: ["cost_usd"],
      group_by: ["feature"],
      filters: runsOnly,
      distribution: { metric: "cost_usd", per: "agent_run_id", stats: [...STATS, "count"] },
      order_by: [{ metric: "cost_usd", desc: true }],
    }),
  );
  const top = useQuery(
    queries.rollup({
      ...span,
      metrics: ["cost_usd", "requests", "errors"],
      group_by: ["agent_run_id", "feature"],
      filters: runsOnly,
      order_by: [{ metric: "cost_usd", desc: true }],
      limit: 25,
      other: false,
    }),
  );
  const stopped = useQuery(queries.stoppedRuns());

  const spreadColumns: Column<QueryRow>[] = [
    { key: "feature", label: "Feature", sortValue: (r) => String(r.feature ?? ""), render: (r) => String(r.feature ?? "(none)") },
    {
      key: "cost_usd_count",
      label: "Runs",
      numeric: true,
      sortValue: (r) => r.cost_usd_count,
      render: (r) => int(r.cost_usd_count),
    },
    ...STATS.map(
      (s): Column<QueryRow> => ({
        key: `cost_usd_${s}`,
        label: s === "max" ? "Max" : s,
        numeric: true,
        sortValue: (r) => r[`cost_usd_${s}`],
        render: (r) => <Money value={r[`cost_usd_${s}`] as string | null} />,
      }),
    ),
    { key: "cost_usd", label: "Total", numeric: true, sortValue: (r) => r.cost_usd, render: (r) => <Money value={r.cost_usd} /> },
  ];
  const topColumns: Column<QueryRow>[] = [
    {
      key: "agent_run_id",
      label: "Run",
      sortValue: (r) => String(r.agent_run_id),
      render: (r) => <Link href={`/runs/${encodeURIComponent(String(r.agent_run_id))}`}>{String(r.agent_run_id)}</Link>,
    },
    { key: "feature", label: "Feature", sortValue: (r) => String(r.feature ?? ""), render: (r) => String(r.feature ?? "(none)") },
    { key: "requests", label: "Calls", numeric: true, sortValue: (r) => r.requests, render: (r) => int(r.requests) },
    { key: "errors", label: "Errors", numeric: true, sortValue: (r) => r.errors, render: (r) => int(r.errors) },
    { key: "cost_usd", label: "Cost", numeric: true, sortValue: (r) => r.cost_usd, render: (r) => <Money value={r.cost_usd} /> },
  ];

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Agent runs</h1>
          <p>What one run of each agent costs: the typical run, the tail, and the runs that cost the most.</p>
        </div>
        <fieldset className="segmented" aria-label="Time range">
          {RANGES.map((r) => (
            <button
              type="button"
              key={r.key}
              aria-pressed={range.key === r.key}
              onClick={() => setParams((p) => p.set("range", r.key), { replace: true })}
            >
              {r.label}
            </button>
          ))}
        </fieldset>
      </div>
      <div className="stack">
        {stopped.data && stopped.data.length > 0 && (
          <section className="card" data-section="stopped">
            <div className="card-head">
              <h2>Stopped by a ceiling</h2>
              <span className="hint">The kill switch refused their next call</span>
            </div>
            <ul className="list">
              {stopped.data.map((s) => (
                <li key={s.agent_run_id} className="row small">
                  <Link href={`/runs/${encodeURIComponent(s.agent_run_id)}`}>{s.agent_run_id}</Link>
                  <span className="muted">{s.reason}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
        <section className="card">
          <div className="card-head">
            <h2>Cost per run, by feature</h2>
            <span className="hint">Each run's calls summed, then p50, p90, p99 and max over runs (log scale)</span>
          </div>
          {spread.isPending ? (
            <Loading height={300} />
          ) : spread.isError ? (
            <ErrorNote error={spread.error} retry={() => void spread.refetch()} />
          ) : spread.data.length === 0 ? (
            <Empty title="No agent runs in this range">Calls that carry an agent_run_id show up here.</Empty>
          ) : (
            <>
              <DistributionBars
                labels={spread.data.map((r) => String(r.feature ?? "(none)"))}
                stats={STATS.map((s) => ({
                  label: s === "max" ? "max" : s,
                  values: spread.data.map((r) => String(r[`cost_usd_${s}`] ?? "0")),
                }))}
              />
              <div className="table-scroll" style={{ marginTop: 12 }}>
                <SortableTable
                  testId="runs-spread"
                  columns={spreadColumns}
                  rows={spread.data}
                  rowKey={(r) => String(r.feature)}
                  initialSort={{ key: "cost_usd_p99", desc: true }}
                />
              </div>
            </>
          )}
        </section>
        <section className="card">
          <div className="card-head">
            <h2>The most expensive runs</h2>
            <span className="hint">Open one for its timeline of calls</span>
          </div>
          {top.isPending ? (
            <Loading height={300} />
          ) : top.isError ? (
            <ErrorNote error={top.error} retry={() => void top.refetch()} />
          ) : top.data.length === 0 ? (
            <Empty title="No agent runs in this range" />
          ) : (
            <div className="table-scroll">
              <SortableTable
                testId="runs-top"
                columns={topColumns}
                rows={top.data}
                rowKey={(r) => String(r.agent_run_id)}
                initialSort={{ key: "cost_usd", desc: true }}
              />
            </div>
          )}
        </section>
      </div>
    </>
  );
}
