import { CosttrailError } from "@costtrail/core";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { progressBar } from "../progress.js";
import { parseTimeArg, parseWhere } from "../time-arg.js";
import { formatTable } from "./report.js";

interface RepriceFlags {
  since?: string;
  until?: string;
  where: string[];
  reason?: string;
  dryRun?: boolean;
  wait: boolean;
  json?: boolean;
  url?: string;
  apiKey?: string;
}

export interface VersionView {
  version: number;
  state: "running" | "done" | "failed";
  dry_run: boolean;
  created_at: string;
  created_by: string;
  reason: string;
  events_total: number;
  events_done: number;
  recorded_cost_usd: string | null;
  current_cost_usd: string | null;
  difference_usd: string | null;
  unpriced_before: number | null;
  unpriced_after: number | null;
  error: string | null;
}

const POLL_MS = 250;

/** The lines `costtrail reprice` ends with: what changed, or what would. */
export function summary(v: VersionView): string {
  const head = v.dry_run
    ? `dry run: ${v.events_done} events priced again, nothing written`
    : `price version ${v.version}: ${v.events_done} events priced again (${v.reason}; by ${v.created_by})`;
  if (v.state === "failed") return `${head}\nfailed: ${v.error}`;
  const rows = [
    { pricing: "recorded", cost_usd: v.recorded_cost_usd, unpriced_requests: v.unpriced_before },
    { pricing: v.dry_run ? "would be" : "current", cost_usd: v.current_cost_usd, unpriced_requests: v.unpriced_after },
    { pricing: "difference", cost_usd: v.difference_usd, unpriced_requests: null },
  ];
  const tail = v.dry_run
    ? ""
    : '\nRecorded prices are kept; queries with "pricing": "current" (report --pricing current|both) read this version.';
  return `${head}\n${formatTable(rows, ["pricing", "cost_usd", "unpriced_requests"])}${tail}`;
}

export function registerReprice(program: Command): void {
  program
    .command("reprice")
    .description("price stored events again under today's rate cards, as a new price version (admin key)")
    .requiredOption("--since <time>", "start: 30d, 24h, or an ISO time")
    .option("--until <time>", "end: a duration ago or an ISO time (default now)")
    .option("--where <key=value>", "filter, repeatable; key=a|b matches either", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--reason <text>", "why (kept with the version; required unless --dry-run)")
    .option("--dry-run", "say what would change, write nothing")
    .option("--no-wait", "start it and return; follow it with GET /v1/reprice/{version}")
    .option("--json", "print the version as JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "an admin key")
    .action(async (flags: RepriceFlags) => {
      if (!flags.dryRun && (flags.reason === undefined || flags.reason.trim() === ""))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--reason: say why these events are priced again (or use --dry-run)", {
          path: ["--reason"],
        });
      const now = Date.now();
      const body = {
        from: parseTimeArg(flags.since as string, "--since", now),
        to: flags.until ? parseTimeArg(flags.until, "--until", now) : new Date(now).toISOString(),
        ...(flags.where.length > 0 && { filters: parseWhere(flags.where) }),
        ...(flags.reason !== undefined && { reason: flags.reason }),
        ...(flags.dryRun && { dry_run: true }),
      };
      const client = resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
      const started = await client.json<(VersionView & { reused?: boolean }) | { version: null; message: string }>(
        "POST",
        "/v1/reprice",
        body,
      );
      if (started.version === null) {
        process.stdout.write(`reprice: ${(started as { message: string }).message}\n`);
        return;
      }
      let v = started as VersionView & { reused?: boolean };
      if ((v as { reused?: boolean }).reused)
        process.stdout.write(`reprice: the same selection was already priced with this rate card, as version ${v.version}\n`);
      if (flags.wait) {
        const bar = progressBar(`${v.dry_run ? "dry run" : `version ${v.version}`}`, v.events_total);
        while (v.state === "running") {
          await new Promise((r) => setTimeout(r, POLL_MS));
          v = await client.json<VersionView>("GET", `/v1/reprice/${v.version}`);
          bar.update(Math.min(v.events_done, v.events_total));
        }
        bar.stop();
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
      else if (v.state === "running") process.stdout.write(`reprice: version ${v.version} started over ${v.events_total} events\n`);
      else process.stdout.write(`${summary(v)}\n`);
      if (v.state === "failed") process.exitCode = 1;
    });
}
