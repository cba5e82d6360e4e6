import {
  BarController,
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  type ChartOptions,
  Filler,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  Tooltip,
} from "chart.js";
import { Bar, Line } from "react-chartjs-2";
import { sumDecimals } from "../api/queries.js";
import { int, intCompact, usdAxis, usdExactly } from "./format.js";

ChartJS.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  Filler,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
);

/** Calm, distinguishable in both themes; the last is for "Other". */
export const PALETTE = ["#3b7d6b", "#5b8bd0", "#d08b3c", "#9a6cc4", "#c95f6e", "#4aa3a8", "#b6a23a", "#7a8a5a"];
export const OTHER_COLOR = "#a3aba7";

export interface Series {
  readonly label: string;
  /** One exact decimal per bucket. */
  readonly values: readonly string[];
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** An amount per time bucket, stacked by a dimension. Clicking a bar segment tells which bucket and series. */
export function StackedBars({
  labels,
  series,
  onPick,
  height = 300,
  unit = "usd",
}: {
  labels: readonly string[];
  series: readonly Series[];
  onPick?: (bucket: number, series: number) => void;
  height?: number;
  /** Dollars (exact decimal text) or counts. */
  unit?: "usd" | "count";
}) {
  const exact = (v: string | undefined) => (unit === "usd" ? usdExactly(v ?? "0") : int(v ?? "0"));
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const data = {
    labels: [...labels],
    datasets: series.map((s, i) => ({
      label: s.label,
      data: s.values.map(Number),
      backgroundColor: s.label === "Other" && i === series.length - 1 ? OTHER_COLOR : (PALETTE[i % PALETTE.length] as string),
      borderRadius: 2,
      maxBarThickness: 36,
    })),
  };
  const options: ChartOptions<"bar"> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { color: text, boxWidth: 10, boxHeight: 10, usePointStyle: false } },
      tooltip: {
        itemSort: (a, b) => (b.parsed.y ?? 0) - (a.parsed.y ?? 0),
        filter: (item) => item.parsed.y !== 0,
        callbacks: {
          // The exact decimal the ledger answered, not the float the bar was drawn from.
          label: (item) => ` ${item.dataset.label}: ${exact(series[item.datasetIndex]?.values[item.dataIndex])}`,
          footer: (items) => {
            const i = items[0]?.dataIndex ?? 0;
            return `Total: ${exact(sumDecimals(series.map((s) => s.values[i])))}`;
          },
        },
      },
    },
    scales: {
      x: { stacked: true, grid: { display: false }, ticks: { color: text, maxRotation: 0, autoSkipPadding: 12 } },
      y: {
        stacked: true,
        beginAtZero: true,
        grid: { color: grid },
        border: { display: false },
        ticks: { color: text, callback: (v) => (unit === "usd" ? usdAxis(Number(v)) : intCompact(Number(v))) },
      },
    },
    onClick: (_event, elements) => {
      const el = elements[0];
      if (el && onPick) onPick(el.index, el.datasetIndex);
    },
    onHover: (event, elements) => {
      const target = event.native?.target as HTMLElement | undefined;
      if (target) target.style.cursor = elements.length > 0 && onPick ? "pointer" : "default";
    },
  };
  return (
    <div
      className="chart-box"
      style={{ height }}
      data-chart="stacked"
      data-points={labels.length * series.length}
      data-series={series.map((s) => s.label).join("|")}
      data-total={sumDecimals(series.flatMap((s) => s.values))}
    >
      <Bar data={data} options={options} />
    </div>
  );
}

/** Statistics side by side per group (p50, p90, p99, max of cost per run), on a log scale: tails are orders of magnitude above the middle. */
export function DistributionBars({
  labels,
  stats,
  height = 280,
}: {
  labels: readonly string[];
  stats: readonly Series[];
  height?: number;
}) {
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const data = {
    labels: [...labels],
    datasets: stats.map((s, i) => ({
      label: s.label,
      data: s.values.map(Number),
      backgroundColor: PALETTE[i % PALETTE.length] as string,
      borderRadius: 2,
      maxBarThickness: 28,
    })),
  };
  const options: ChartOptions<"bar"> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { color: text, boxWidth: 10, boxHeight: 10 } },
      tooltip: {
        callbacks: { label: (item) => ` ${item.dataset.label}: ${usdExactly(stats[item.datasetIndex]?.values[item.dataIndex] ?? "0")}` },
      },
    },
    scales: {
      x: { grid: { display: false }, ticks: { color: text } },
      y: {
        type: "logarithmic",
        grid: { color: grid },
        border: { display: false },
        // Powers of ten only: a log axis labelled at every step is unreadable.
        ticks: { color: text, callback: (v) => (Number.isInteger(Math.log10(Number(v))) ? usdAxis(Number(v)) : "") },
      },
    },
  };
  return (
    <div className="chart-box" style={{ height }} data-chart="distribution" data-series={stats.map((s) => s.label).join("|")}>
      <Bar data={data} options={options} />
    </div>
  );
}

/** A running total over a sequence (an agent run's calls): where the money went as it went on. */
export function CumulativeCost({
  labels,
  values,
  height = 220,
}: {
  labels: readonly string[];
  values: readonly string[];
  height?: number;
}) {
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const data = {
    labels: [...labels],
    datasets: [
      {
        label: "Cost so far",
        data: values.map(Number),
        borderColor: PALETTE[0],
        backgroundColor: `${PALETTE[0]}33`,
        fill: true,
        pointRadius: values.length > 60 ? 0 : 2,
        stepped: true as const,
      },
    ],
  };
  const options: ChartOptions<"line"> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { display: false },
      tooltip: {
        callbacks: {
          label: (item) => ` Cost so far: ${usdExactly(values[item.dataIndex] ?? "0")}`,
          title: (items) => `Call ${(items[0]?.dataIndex ?? 0) + 1} (${items[0]?.label ?? ""})`,
        },
      },
    },
    scales: {
      x: { grid: { display: false }, ticks: { color: text, maxRotation: 0, autoSkipPadding: 16 } },
      y: {
        beginAtZero: true,
        grid: { color: grid },
        border: { display: false },
        ticks: { color: text, callback: (v) => usdAxis(Number(v)) },
      },
    },
  };
  return (
    <div className="chart-box" style={{ height }} data-chart="cumulative" data-total={values.at(-1) ?? "0"}>
      <Line data={data} options={options} />
    </div>
  );
}

/** A budget's spend so far against its limit: the running total per bucket, and the limit as a dashed line. */
export function BurnDown({
  labels,
  cumulative,
  limit,
  height = 260,
}: {
  labels: readonly string[];
  cumulative: readonly string[];
  limit: string;
  height?: number;
}) {
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const bad = cssVar("--bad");
  const data = {
    labels: [...labels],
    datasets: [
      {
        label: "Spent",
        data: cumulative.map(Number),
        borderColor: PALETTE[0],
        backgroundColor: `${PALETTE[0]}33`,
        fill: true,
        pointRadius: 0,
        stepped: true as const,
      },
      { label: "Limit", data: labels.map(() => Number(limit)), borderColor: bad, borderDash: [6, 4], pointRadius: 0, fill: false },
    ],
  };
  const options: ChartOptions<"line"> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { color: text, boxWidth: 10, boxHeight: 10 } },
      tooltip: {
        callbacks: {
          label: (item) => ` ${item.dataset.label}: ${usdExactly(item.datasetIndex === 0 ? (cumulative[item.dataIndex] ?? "0") : limit)}`,
        },
      },
    },
    scales: {
      x: { grid: { display: false }, ticks: { color: text, maxRotation: 0, autoSkipPadding: 16 } },
      y: {
        beginAtZero: true,
        grid: { color: grid },
        border: { display: false },
        ticks: { color: text, callback: (v) => usdAxis(Number(v)) },
      },
    },
  };
  return (
    <div className="chart-box" style={{ height }} data-chart="burn-down" data-total={cumulative.at(-1) ?? "0"} data-limit={limit}>
      <Line data={data} options={options} />
    </div>
  );
}
