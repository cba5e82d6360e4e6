import type { Command } from "commander";
import { CosttrailError } from "@costtrail/core";
import { type ApiClient, resolveClient } from "../client.js";
import { demoEvents } from "../demo/demo-traffic.js";
import { progressBar } from "../progress.js";

export interface DemoLoadResult {
  readonly sent: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly conflicts: number;
  readonly rejected: number;
  readonly seconds: number;
}

const BATCH = 1000;
const CONCURRENCY = 4;

/** Sends the synthetic month through the real ingest path, a few batches in flight at a time. */
export async function loadDemo(
  client: ApiClient,
  opts: { events: number; days: number; seed: number; end?: number; quiet?: boolean },
): Promise<DemoLoadResult> {
  const started = Date.now();
  const bar = opts.quiet ? { update() {}, stop() {} } : progressBar("demo", opts.events);
  const totals = { sent: 0, accepted: 0, duplicates: 0, conflicts: 0, rejected: 0 };
  const inFlight = new Set<Promise<void>>();
  const send = async (batch: Array<Record<string, unknown>>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await client.json<{ accepted: number; duplicates: unknown[]; conflicts: unknown[]; rejected: unknown[] }>(
          "POST",
          "/v1/events",
          batch,
        );
        totals.accepted += r.accepted;
        totals.duplicates += r.duplicates.length;
        totals.conflicts += r.conflicts.length;
        totals.rejected += r.rejected.length;
        totals.sent += batch.length;
        bar.update(totals.sent);
        return;
      } catch (e) {
        // The server sheds load with 503 + Retry-After; wait and resend (ids make it safe).
        if ((e as CosttrailError).code === "CT_OVERLOADED" && attempt < 20) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        else throw e;
      }
    }
  };
  let batch: Array<Record<string, unknown>> = [];
  const flush = async () => {
    const p = send(batch).finally(() => inFlight.delete(p));
    inFlight.add(p);
    batch = [];
    if (inFlight.size >= CONCURRENCY) await Promise.race(inFlight);
  };
  for (const e of demoEvents({ events: opts.events, days: opts.days, seed: opts.seed, end: opts.end ?? Date.now() })) {
    batch.push(e);
    if (batch.length === BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  await Promise.all(inFlight);
  bar.stop();
  return { ...totals, seconds: (Date.now() - started) / 1000 };
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("load a realistic month of synthetic LLM traffic into a server through its ingest API")
    .option("--events <n>", "number of events", "100000")
    .option("--days <n>", "days of history ending now", "30")
    .option("--seed <n>", "random seed (same seed and --end, same events)", "42")
    .option("--end <time>", "end of the generated month, ISO-8601 (default now)")
    .option("--url <url>", "server URL (default: COSTTRAIL_URL or http://127.0.0.1:4680)")
    .option("--api-key <key>", "an ingest key (default: COSTTRAIL_API_KEY or .costtrail/admin.key)")
    .action(async (o: { events: string; days: string; seed: string; end?: string; url?: string; apiKey?: string }) => {
      const events = Number(o.events);
      const days = Number(o.days);
      if (!Number.isInteger(events) || events < 1 || events > 100_000_000)
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--events: must be an integer from 1 to 100000000", { path: ["--events"] });
      if (!Number.isInteger(days) || days < 1 || days > 400)
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--days: must be an integer from 1 to 400", { path: ["--days"] });
      const client = resolveClient({ ...(o.url && { url: o.url }), ...(o.apiKey && { apiKey: o.apiKey }) });
      const end = o.end === undefined ? Date.now() : Date.parse(o.end);
      if (Number.isNaN(end)) throw new CosttrailError("CT_INVALID_ARGUMENT", "--end: must be an ISO-8601 time", { path: ["--end"] });
      const r = await loadDemo(client, { events, days, seed: Number(o.seed), end });
      process.stdout.write(
        `demo: sent ${r.sent} events (${r.accepted} accepted, ${r.duplicates} already present, ${r.conflicts} conflicting, ${r.rejected} rejected) in ${r.seconds.toFixed(1)} s\n`,
      );
    });
}
