/**
 * The realistic bench's re-pricing phase: a negotiated 10% OpenAI discount added to the
 * configuration late, then the whole ledger priced again over HTTP as `costtrail reprice`
 * does it (POST /v1/reprice, then polling its version), and the standard rollups read with
 * `"pricing": "current"` afterwards (about half the events changed price).
 */
import type { Figures } from "./figures.js";
import { type Target, sleep, timeQuery } from "./http-load.js";
import type { ServerProcess } from "./server-process.js";

interface Version {
  version: number;
  state: string;
  events_total: number;
  events_done: number;
  events_changed: number;
  recorded_cost_usd: string | null;
  current_cost_usd: string | null;
  error: string | null;
}

/** Re-prices every event of the ledger under a late discount; prints the rate and the rollups at current pricing. */
export async function repricePhase(server: ServerProcess, target: Target, figures: Figures, runs: number): Promise<void> {
  await server.reconfigure(`${server.configured ?? "version: 1\n"}pricing:\n  discounts: { openai: "10" }\n`);
  const t0 = performance.now();
  const started = await target.post(
    "/v1/reprice",
    JSON.stringify({ from: "1970-01-01T00:00:00Z", reason: "bench: a 10% OpenAI discount agreed late" }),
  );
  if (started.status !== 202) throw new Error(`POST /v1/reprice answered ${started.status}: ${started.text.slice(0, 300)}`);
  let v = JSON.parse(started.text) as Version;
  const startMs = performance.now() - t0;
  let last = performance.now();
  while (v.state === "running") {
    await sleep(500);
    v = JSON.parse((await target.get(`/v1/reprice/${v.version}`)).text) as Version;
    if (performance.now() - last > 30_000) {
      console.log(`    reprice: ${v.events_done.toLocaleString("en-US")} of ${v.events_total.toLocaleString("en-US")} events`);
      last = performance.now();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (v.state !== "done") throw new Error(`price version ${v.version} ended ${v.state}: ${v.error}`);
  figures.add(
    "re-pricing rate (whole ledger)",
    v.events_done / seconds,
    "events/s",
    { kind: "min", value: 20_000 },
    `(${v.events_done.toLocaleString("en-US")} events in ${seconds.toFixed(1)} s, ${v.events_changed.toLocaleString("en-US")} changed price; planning took ${startMs.toFixed(0)} ms; recorded $${v.recorded_cost_usd}, current $${v.current_cost_usd})`,
  );
  for (const q of [
    { name: "current pricing: cost by day × user_id", spec: { metrics: ["cost_usd", "requests"], group_by: ["user_id"], grain: "day" } },
    {
      name: "current pricing: p50/p99/max cost per agent run by feature",
      spec: {
        metrics: ["cost_usd"],
        group_by: ["feature"],
        distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "p99", "max"] },
      },
    },
  ]) {
    try {
      const t = await timeQuery(target, { ...q.spec, pricing: "current" }, runs);
      figures.add(q.name, t.medianMs, "ms", undefined, `(median of ${t.runs}, max ${t.maxMs.toFixed(0)} ms, ${t.rows} rows)`);
    } catch (e) {
      figures.note(`${q.name}: failed: ${(e as Error).message.slice(0, 300)}`);
    }
  }
}
