import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useLocation } from "wouter";
import { ApiError } from "../api/client.js";
import { dimensionLabel, isDimension } from "../api/dimensions.js";
import { queries, sumDecimals } from "../api/queries.js";
import type { QueryRequest, QueryRow } from "../api/types.js";
import { StackedBars } from "../components/charts.js";
import { bucketLabel, int, localTimeZone, percent, when } from "../components/format.js";
import { DimensionOptions, FilterAdder, FilterChips } from "../components/filters.js";
import { Money } from "../components/money.js";
import { groupLabel, toSeries } from "../components/series.js";
import { type Column, SortableTable } from "../components/sortable-table.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RANGES = [
  { key: "24h", label: "24 hours", ms: DAY, grain: "hour" },
  { key: "7d", label: "7 days", ms: 7 * DAY, grain: "day" },
  { key: "30d", label: "30 days", ms: 30 * DAY, grain: "day" },
  { key: "90d", label: "90 days", ms: 90 * DAY, grain: "week" },
] as const;
const GRAINS = ["hour", "day", "week", "month"] as const;
const CHART_METRICS = [
  { key: "cost_usd", label: "Cost" },
  { key: "requests", label: "Requests" },
  { key: "total_tokens", label: "Tokens" },
] as const;
/** Tokens are in the chart's choices, not the table's: summing every token bucket per group is the slowest part of a month's table. */
const TABLE_METRICS = ["cost_usd", "requests", "cost_per_request_usd", "error_rate"];
/** The table's groups: the biggest up to this many, the rest in one "(other)" row so the total stays whole. */
const TABLE_LIMIT = 500;
const PARAMS = new Set(["from", "to", "range", "grain", "group_by", "metric"]);

interface View {
  from: string;
  to: string;
  rangeKey: string | null;
  grain: (typeof GRAINS)[number];
  groupBy: string[];
  metric: string;
  filters: Array<{ column: string; values: string[] }>;
}

/** Reads the view from the URL; anything missing or malformed falls back to the last 7 days by feature. */
function readView(p: URLSearchParams, now: number): View {
  const fromParam = p.get("from");
  const toParam = p.get("to");
  const custom = fromParam !== null && !Number.isNaN(Date.parse(fromParam));
  const range = RANGES.find((r) => r.key === p.get("range")) ?? RANGES[1];
  const to =
    custom && toParam !== null && !Number.isNaN(Date.parse(toParam)) ? new Date(toParam).toISOString() : new Date(now).toISOString();
  const from = custom ? new Date(fromParam).toISOString() : new Date(Date.parse(to) - range.ms).toISOString();
  const grainParam = p.get("grain");
  const span = Date.parse(to) - Date.parse(from);
  const fallbackGrain = custom ? (span <= 2 * DAY ? "hour" : span <= 120 * DAY ? "day" : "week") : range.grain;
  const grain = (GRAINS as readonly string[]).includes(grainParam ?? "") ? (grainParam as View["grain"]) : fallbackGrain;
  const groupBy = (p.get("group_by") ?? "feature")
    .split(",")
    .map((s) => s.trim())
    .filter((d) => d !== "" && isDimension(d))
    .slice(0, 2);
  const metric = CHART_METRICS.some((m) => m.key === p.get("metric")) ? (p.get("metric") as string) : "cost_usd";
  const filters: View["filters"] = [];
  for (const key of new Set(p.keys())) {
    if (PARAMS.has(key) || !isDimension(key)) continue;
    filters.push({ column: key, values: p.getAll(key) });
  }
  return { from, to, rangeKey: custom ? null : range.key, grain, groupBy, metric, filters };
}

function requestFilters(v: View): QueryRequest["filters"] {
  return v.filters.map((f) =>
    f.values.length === 1 ? { column: f.column, op: "eq", value: f.values[0] as string } : { column: f.column, op: "in", value: f.values },
  );
}

/** An instant as a datetime-local input shows it: the reader's local time, to the minute. */
function inputDate(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function downloadCsv(body: QueryRequest, name: string): Promise<void> {
  const res = await fetch("/v1/query", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "text/csv", "x-costtrail-csrf": "1" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const err = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `The server answered ${res.status}`);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ExplorerPage() {
  const [params, setParams] = useUrlState();
  const [, navigate] = useLocation();
  const [now] = useState(() => Date.now());
  const view = useMemo(() => readView(params, now), [params, now]);
  const timeZone = localTimeZone();
  const [exportError, setExportError] = useState<unknown>(null);
  const tags = useQuery(queries.tagKeys(view.from, view.to));
  const tagKeys = (tags.data ?? []).map((t) => t.key);

  const base = { time_zone: timeZone, from: view.from, to: view.to, filters: requestFilters(view) };
  const tableRequest: QueryRequest = {
    ...base,
    metrics: TABLE_METRICS,
    group_by: view.groupBy,
    order_by: [{ metric: "cost_usd", desc: true }],
    limit: TABLE_LIMIT,
    other: true,
  };
  const chartRequest: QueryRequest = {
    ...base,
    metrics: [view.metric],
    group_by: view.groupBy,
    grain: view.grain,
    order_by: [{ column: "bucket" }],
  };
  const table = useQuery(queries.rollup(tableRequest));
  const chart = useQuery(queries.rollup(chartRequest));
  const chartData = useMemo(() => {
    if (!chart.data) return null;
    const buckets = [...new Set(chart.data.map((r) => String(r.bucket)))].sort();
    return { buckets, series: toSeries(chart.data, view.groupBy, view.metric, buckets) };
  }, [chart.data, view.groupBy, view.metric]);

  const set = (change: (p: URLSearchParams) => void) => setParams(change);
  const drill = (extra: Record<string, string>, from = view.from, to = view.to) => {
    const q = new URLSearchParams({ from, to });
    for (const f of view.filters) for (const v of f.values) q.append(f.column, v);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    navigate(`/events?${q}`);
  };

  const columns: Column<QueryRow>[] = [
    ...view.groupBy.map(
      (d): Column<QueryRow> => ({
        key: d,
        label: dimensionLabel(d),
        sortValue: (r) => (r[d] === null ? null : String(r[d])),
        render: (r) => (r[d] === null ? <span className="muted">(none)</span> : String(r[d])),
      }),
    ),
    { key: "cost_usd", label: "Cost", numeric: true, sortValue: (r) => r.cost_usd, render: (r) => <Money value={r.cost_usd} /> },
    { key: "requests", label: "Requests", numeric: true, sortValue: (r) => r.requests, render: (r) => int(r.requests) },
    {
      key: "cost_per_request_usd",
      label: "Per request",
      numeric: true,
      sortValue: (r) => r.cost_per_request_usd,
      render: (r) => <Money value={r.cost_per_request_usd} />,
    },
    {
      key: "error_rate",
      label: "Errors",
      numeric: true,
      sortValue: (r) => r.error_rate,
      render: (r) => percent(Number(r.error_rate ?? 0) * 100, 1),
    },
  ];
  const totals = table.data
    ? {
        cost: sumDecimals(table.data.map((r) => r.cost_usd)),
        requests: table.data.reduce((s, r) => s + Number(r.requests ?? 0), 0),
      }
    : null;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Explorer</h1>
          <p>
            {view.groupBy.length > 0 ? `By ${view.groupBy.map(dimensionLabel).join(" and ")}` : "All spend"}, {when(view.from)} to{" "}
            {when(view.to)} ({timeZone}).
          </p>
        </div>
        <button
          type="button"
          onClick={() => {
            setExportError(null);
            downloadCsv(
              tableRequest,
              `costtrail-${view.groupBy.join("-") || "total"}-${view.from.slice(0, 10)}-${view.to.slice(0, 10)}.csv`,
            ).catch(setExportError);
          }}
        >
          Export CSV
        </button>
      </div>
      {exportError !== null && (
        <div className="banner" role="alert">
          The export failed: {exportError instanceof ApiError ? exportError.message : String(exportError)}
        </div>
      )}
      <div className="stack">
        <section className="card stack" aria-label="View">
          <div className="toolbar">
            <fieldset className="segmented" aria-label="Time range">
              {RANGES.map((r) => (
                <button
                  type="button"
                  key={r.key}
                  aria-pressed={view.rangeKey === r.key}
                  onClick={() =>
                    set((p) => {
                      p.delete("from");
                      p.delete("to");
                      p.delete("grain");
                      p.set("range", r.key);
                    })
                  }
                >
                  {r.label}
                </button>
              ))}
            </fieldset>
            <label>
              From
              <input
                type="datetime-local"
                value={inputDate(view.from)}
                onChange={(e) =>
                  e.target.value &&
                  set((p) => {
                    p.delete("range");
                    p.set("from", new Date(e.target.value).toISOString());
                    p.set("to", view.to);
                  })
                }
              />
            </label>
            <label>
              To
              <input
                type="datetime-local"
                value={inputDate(view.to)}
                onChange={(e) =>
                  e.target.value &&
                  set((p) => {
                    p.delete("range");
                    p.set("from", view.from);
                    p.set("to", new Date(e.target.value).toISOString());
                  })
                }
              />
            </label>
            <label>
              Grain
              <select value={view.grain} onChange={(e) => set((p) => p.set("grain", e.target.value))} aria-label="Grain">
                {GRAINS.map((g) => (
                  <option key={g} value={g}>
                    {g}
                  </option>
                ))}
              </select>
            </label>
            {[0, 1].map((i) => (
              <label key={i}>
                {i === 0 ? "Group by" : "then by"}
                <select
                  aria-label={i === 0 ? "Group by" : "Then group by"}
                  value={view.groupBy[i] ?? ""}
                  onChange={(e) =>
                    set((p) => {
                      const next = [...view.groupBy];
                      if (e.target.value === "") next.splice(i, 1);
                      else next[i] = e.target.value;
                      p.set("group_by", [...new Set(next)].join(","));
                    })
                  }
                >
                  <option value="">{i === 0 ? "Nothing (totals)" : "Nothing"}</option>
                  <DimensionOptions tagKeys={tagKeys} />
                </select>
              </label>
            ))}
            <label>
              Chart
              <select value={view.metric} onChange={(e) => set((p) => p.set("metric", e.target.value))} aria-label="Chart metric">
                {CHART_METRICS.map((m) => (
                  <option key={m.key} value={m.key}>
                    {m.label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="chips" data-testid="filters">
            <FilterChips filters={view.filters} onRemove={(c) => set((p) => p.delete(c))} />
            <FilterAdder tagKeys={tagKeys} onAdd={(column, value) => set((p) => p.append(column, value))} />
          </div>
        </section>
        <section className="card">
          <div className="card-head">
            <h2>
              {CHART_METRICS.find((m) => m.key === view.metric)?.label} per {view.grain}
            </h2>
            <span className="hint">Click a bar for its events</span>
          </div>
          {chart.isPending ? (
            <Loading height={300} />
          ) : chart.isError ? (
            <ErrorNote error={chart.error} retry={() => void chart.refetch()} />
          ) : !chartData || chartData.buckets.length === 0 ? (
            <Empty title="No events in this view">Widen the time range or remove a filter.</Empty>
          ) : (
            <StackedBars
              labels={chartData.buckets.map((b) => bucketLabel(b, view.grain))}
              series={chartData.series}
              unit={view.metric === "cost_usd" ? "usd" : "count"}
              onPick={(b, s) => {
                const start = chartData.buckets[b] as string;
                const end = chartData.buckets[b + 1] ?? view.to;
                const label = chartData.series[s]?.label;
                const extra: Record<string, string> = {};
                if (label !== undefined && label !== "Other")
                  label.split(" · ").forEach((v, i) => {
                    const d = view.groupBy[i];
                    if (d && v !== "(none)") extra[d] = v;
                  });
                drill(extra, start > view.from ? start : view.from, end < view.to ? end : view.to);
              }}
            />
          )}
        </section>
        <section className="card">
          <div className="card-head">
            <h2>{table.data ? `${int(table.data.length)} ${table.data.length === 1 ? "row" : "rows"}` : "Rows"}</h2>
            <span className="hint">Click a row for its events</span>
          </div>
          {table.isPending ? (
            <Loading height={240} />
          ) : table.isError ? (
            <ErrorNote error={table.error} retry={() => void table.refetch()} />
          ) : table.data.length === 0 ? (
            <Empty title="No events in this view">Widen the time range or remove a filter.</Empty>
          ) : (
            <div className="table-scroll">
              <SortableTable
                testId="explorer-table"
                columns={columns}
                rows={table.data}
                rowKey={(r) => groupLabel(r, view.groupBy) || "total"}
                initialSort={{ key: "cost_usd", desc: true }}
                onRowClick={(r) => {
                  if (view.groupBy.some((d) => r[d] === "(other)")) return;
                  const extra: Record<string, string> = {};
                  for (const d of view.groupBy) if (r[d] !== null) extra[d] = String(r[d]);
                  drill(extra);
                }}
                footer={
                  totals && view.groupBy.length > 0 ? (
                    <tfoot>
                      <tr data-testid="explorer-total">
                        <td colSpan={view.groupBy.length}>Total</td>
                        <td className="num">
                          <Money value={totals.cost} />
                        </td>
                        <td className="num">{int(totals.requests)}</td>
                        <td />
                        <td />
                      </tr>
                    </tfoot>
                  ) : null
                }
              />
            </div>
          )}
        </section>
      </div>
    </>
  );
}
