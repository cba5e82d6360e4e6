import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useLocation, useSearch } from "wouter";
import { queries, sumDecimals } from "../api/queries.js";
import type { Alert, SpendSummary } from "../api/types.js";
import { StackedBars } from "../components/charts.js";
import { toSeries } from "../components/series.js";
import { bucketLabel, change, changeText, int, localTimeZone, percent, relative } from "../components/format.js";
import { budgetTone, runOutText } from "../components/budget-standing.js";
import { Money } from "../components/money.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";

const DAY = 86_400_000;
const STACKS = [
  { key: "provider", label: "Provider" },
  { key: "model", label: "Model" },
  { key: "feature", label: "Feature" },
  { key: "team", label: "Team" },
] as const;
type Stack = (typeof STACKS)[number]["key"];
const TOP = [
  { key: "feature", title: "Top features" },
  { key: "customer_id", title: "Top customers" },
  { key: "user_id", title: "Top users" },
  { key: "model", title: "Top models" },
] as const;

/** The last 30 days up to now, starting at a local midnight: what the chart and the top lists cover. */
function last30Days(now: number): { from: string; to: string } {
  const start = new Date(now - 29 * DAY);
  start.setHours(0, 0, 0, 0);
  return { from: start.toISOString(), to: new Date(now).toISOString() };
}

function Delta({ now, before, label }: { now: string; before: string; label: string }) {
  const c = change(now, before);
  if (c === null) return <span className="stat-sub">Nothing to compare with {label}</span>;
  return (
    <span className="stat-sub">
      <span className={c > 0 ? "up" : "down"}>
        {c > 0 ? "▲" : "▼"} {changeText(c)}
      </span>{" "}
      vs {label} (<Money value={before} />)
    </span>
  );
}

function Stats({ summary }: { summary: SpendSummary }) {
  const f = summary.forecast;
  return (
    <div className="grid stats">
      <div className="card" data-stat="today">
        <div className="stat-label">Today</div>
        <div className="stat-value">
          <Money value={summary.today.cost_usd} />
        </div>
        <Delta now={summary.today.cost_usd} before={summary.today.previous_cost_usd} label="yesterday by now" />
      </div>
      <div className="card" data-stat="week">
        <div className="stat-label">This week</div>
        <div className="stat-value">
          <Money value={summary.week.cost_usd} />
        </div>
        <Delta now={summary.week.cost_usd} before={summary.week.previous_cost_usd} label="last week by now" />
      </div>
      <div className="card" data-stat="month">
        <div className="stat-label">Month to date</div>
        <div className="stat-value">
          <Money value={summary.month.cost_usd} />
        </div>
        <Delta now={summary.month.cost_usd} before={summary.month.previous_cost_usd} label="last month by now" />
      </div>
      <div className="card" data-stat="forecast">
        <div className="stat-label">Forecast, month end</div>
        {f ? (
          <>
            <div className="stat-value">
              <Money value={f.month_end_usd} />
            </div>
            <span className="stat-sub" title="80% range, from the day-to-day spread of recent days">
              <Money value={f.low_usd} /> – <Money value={f.high_usd} /> · <Money value={f.daily_rate_usd} />
              /day over {f.history_days} {f.history_days === 1 ? "day" : "days"}
            </span>
          </>
        ) : (
          <>
            <div className="stat-value muted">—</div>
            <span className="stat-sub">Needs one complete day of spend</span>
          </>
        )}
      </div>
    </div>
  );
}

function SpendOverTime({ stack, range, timeZone }: { stack: Stack; range: { from: string; to: string }; timeZone: string }) {
  const [, navigate] = useLocation();
  const q = useQuery(
    queries.rollup({
      metrics: ["cost_usd"],
      group_by: [stack],
      grain: "day",
      time_zone: timeZone,
      ...range,
      order_by: [{ column: "bucket" }],
    }),
  );
  const chart = useMemo(() => {
    if (!q.data) return null;
    const buckets = [...new Set(q.data.map((r) => String(r.bucket)))].sort();
    return { buckets, series: toSeries(q.data, [stack], "cost_usd", buckets) };
  }, [q.data, stack]);
  if (q.isPending) return <Loading height={300} />;
  if (q.isError) return <ErrorNote error={q.error} retry={() => void q.refetch()} />;
  if (!chart || chart.buckets.length === 0)
    return <Empty title="No spend in the last 30 days">Events sent to the collector show up here.</Empty>;
  return (
    <StackedBars
      labels={chart.buckets.map((b) => bucketLabel(b, "day"))}
      series={chart.series}
      onPick={(bucket, series) => {
        const from = chart.buckets[bucket] as string;
        const label = chart.series[series]?.label;
        // The bar's events: that day, of that group (all groups for "Other", which is several).
        const params = new URLSearchParams({ from, to: new Date(Date.parse(from) + DAY).toISOString() });
        if (label && label !== "Other" && label !== "(none)") params.set(stack, label);
        navigate(`/events?${params}`);
      }}
    />
  );
}

function TopList({ dim, title, range, timeZone }: { dim: string; title: string; range: { from: string; to: string }; timeZone: string }) {
  const q = useQuery(
    queries.rollup({
      metrics: ["cost_usd", "requests"],
      group_by: [dim],
      time_zone: timeZone,
      ...range,
      order_by: [{ metric: "cost_usd", desc: true }],
      limit: 5,
      other: true,
    }),
  );
  const [, navigate] = useLocation();
  const total = q.data ? sumDecimals(q.data.map((r) => r.cost_usd)) : "0";
  // A row opens its events; "(other)" opens the explorer by this dimension, where the rest are.
  const open = (name: string | null) => {
    if (name === null) return;
    if (name === "(other)") navigate(`/explore?${new URLSearchParams({ ...range, group_by: dim })}`);
    else navigate(`/events?${new URLSearchParams({ ...range, [dim]: name })}`);
  };
  return (
    <section className="card" data-top={dim}>
      <div className="card-head">
        <h2>{title}</h2>
        <span className="hint">30 days</span>
      </div>
      {q.isPending ? (
        <Loading height={150} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : q.data.length === 0 ? (
        <Empty title="Nothing yet" />
      ) : (
        <table className="fixed">
          <tbody>
            {q.data.map((r) => {
              const name = r[dim] === null ? "(none)" : String(r[dim]);
              const share = Number(total) > 0 ? (Number(r.cost_usd) / Number(total)) * 100 : 0;
              return (
                <tr key={name} className={r[dim] === null ? undefined : "clickable"} onClick={() => open(r[dim] === null ? null : name)}>
                  <td className="share truncate" title={`${name}: ${int(r.requests)} requests`}>
                    <div className="share-bar" style={{ width: `${share}%` }} />
                    <span>{name}</span>
                  </td>
                  <td className="num">
                    <Money value={r.cost_usd} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Budgets() {
  const q = useQuery(queries.budgets());
  const burning = useMemo(
    () =>
      (q.data ?? [])
        .slice()
        .sort(
          (a, b) =>
            Number(b.forecast_exhausts_in_period) - Number(a.forecast_exhausts_in_period) ||
            b.percent - a.percent ||
            a.name.localeCompare(b.name),
        )
        .slice(0, 5),
    [q.data],
  );
  return (
    <section className="card" data-section="budgets">
      <div className="card-head">
        <h2>Budgets burning fastest</h2>
        <Link href="/budgets" className="small">
          {q.data ? `All ${q.data.length}` : "All budgets"}
        </Link>
      </div>
      {q.isPending ? (
        <Loading height={180} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : burning.length === 0 ? (
        <Empty title="No budgets">Budgets are set in the server's configuration file.</Empty>
      ) : (
        <ul className="list">
          {burning.map((b) => (
            <li key={`${b.name}/${b.scope ?? ""}`}>
              <div className="row small">
                <span>
                  <Link
                    href={`/budgets?${new URLSearchParams(b.scope === null ? { budget: b.name } : { budget: b.name, scope: b.scope })}`}
                  >
                    <strong>{b.name}</strong>
                  </Link>
                  {b.scope !== null && <span className="muted"> · {b.scope}</span>}
                  <span className="muted"> · {b.rolling ? `rolling ${b.period}` : b.period}</span>
                </span>
                <span>
                  <Money value={b.spent_usd} /> <span className="muted">of</span> <Money value={b.limit_usd} />
                </span>
              </div>
              <div className={`meter ${budgetTone(b)}`} style={{ margin: "6px 0 4px" }}>
                <div style={{ width: `${Math.min(100, b.percent)}%` }} />
              </div>
              <div className="row small muted">
                <span>{percent(b.percent)} used</span>
                <span>{runOutText(b)}</span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const SEVERITY_TONE: Record<string, string> = { critical: "bad", error: "bad", warning: "warn", info: "ok" };

function OpenAlerts() {
  const q = useQuery(queries.alerts("open", 6));
  return (
    <section className="card" data-section="alerts">
      <div className="card-head">
        <h2>Open alerts</h2>
        <Link href="/alerts" className="small">
          All alerts
        </Link>
      </div>
      {q.isPending ? (
        <Loading height={180} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : q.data.length === 0 ? (
        <Empty title="No open alerts">Spikes, budget thresholds and runaway agent runs open alerts here.</Empty>
      ) : (
        <ul className="list">
          {q.data.map((a: Alert) => (
            <li key={a.id}>
              <div className="row">
                <span className="small">{a.title}</span>
                <span className={`badge ${SEVERITY_TONE[a.severity] ?? ""}`}>{a.severity}</span>
              </div>
              <div className="small muted">
                {a.rule} · opened {relative(a.opened_at)}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function OverviewPage() {
  const timeZone = localTimeZone();
  const search = new URLSearchParams(useSearch());
  const [location, navigate] = useLocation();
  const stackParam = search.get("stack");
  const stack: Stack = STACKS.some((s) => s.key === stackParam) ? (stackParam as Stack) : "model";
  // One range for the whole page, fixed when it opens, so every panel answers for the same 30 days.
  const range = useMemo(() => last30Days(Date.now()), []);
  const summary = useQuery(queries.summary(timeZone));
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Overview</h1>
          <p>
            Spend in {timeZone}, as priced when each call was recorded.{" "}
            {summary.data && <span className="muted">As of {new Date(summary.data.as_of).toLocaleTimeString()}.</span>}
          </p>
        </div>
      </div>
      <div className="stack">
        {summary.isPending ? (
          <div className="grid stats">
            {[0, 1, 2, 3].map((i) => (
              <div className="card" key={i}>
                <Loading height={72} />
              </div>
            ))}
          </div>
        ) : summary.isError ? (
          <div className="card">
            <ErrorNote error={summary.error} retry={() => void summary.refetch()} />
          </div>
        ) : (
          <Stats summary={summary.data} />
        )}
        <section className="card">
          <div className="card-head">
            <h2>Spend over the last 30 days</h2>
            <fieldset className="segmented" aria-label="Stack by">
              {STACKS.map((s) => (
                <button
                  type="button"
                  key={s.key}
                  aria-pressed={stack === s.key}
                  onClick={() => navigate(`${location}?${new URLSearchParams({ stack: s.key })}`, { replace: true })}
                >
                  {s.label}
                </button>
              ))}
            </fieldset>
          </div>
          <SpendOverTime stack={stack} range={range} timeZone={timeZone} />
        </section>
        <div className="grid four">
          {TOP.map((t) => (
            <TopList key={t.key} dim={t.key} title={t.title} range={range} timeZone={timeZone} />
          ))}
        </div>
        <div className="grid two">
          <Budgets />
          <OpenAlerts />
        </div>
      </div>
    </>
  );
}
