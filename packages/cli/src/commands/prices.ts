import { readFile } from "node:fs/promises";
import {
  CosttrailError,
  type PriceDisagreement,
  type PriceListing,
  type PriceListingEntry,
  RateCard,
  type RateValue,
  checkAgainstLitellm,
} from "@costtrail/core";
import { loadDefaultRateCard, upstreamModels } from "@costtrail/core/default-rate-card";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { parseTimeArg } from "../time-arg.js";
import { formatTable } from "./report.js";

/** LiteLLM's published price table, read when `prices check` is given no --litellm. */
export const LITELLM_TABLE_URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

interface ServerFlags {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

function client(flags: ServerFlags) {
  return resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
}

function atQuery(at: string | undefined): string {
  if (at === undefined) return "";
  if (!/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(at) || Number.isNaN(Date.parse(at.length === 10 ? `${at}T00:00:00Z` : at)))
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--at: must be an ISO date or time such as 2026-03-13, got ${JSON.stringify(at)}`, {
      path: ["--at"],
    });
  return at;
}

/** A rate as one cell: `3`, or `3 (>200000: 6)` for a long-context tier. */
export function rateText(v: RateValue | undefined): string | null {
  if (v === undefined) return null;
  if (typeof v === "string") return v;
  return `${v.base} ${v.tiers.map((t) => `(>${t.start}: ${t.price})`).join(" ")}`;
}

const MAIN_RATES = ["input_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok", "output_mtok"] as const;

function otherRates(e: PriceListingEntry): string {
  return Object.entries(e.rates)
    .filter(([k]) => !(MAIN_RATES as readonly string[]).includes(k))
    .map(([k, v]) => `${k}=${rateText(v)}`)
    .join(" ");
}

function write(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

function printEntry(e: PriceListingEntry, inForce: boolean): string[] {
  const when = e.effective_from ? `from ${e.effective_from}` : "since ever";
  const window = e.time_of_day ? `, ${e.time_of_day.start}–${e.time_of_day.end} UTC` : "";
  const lines = [`  ${inForce ? "▶" : " "} ${when}${window}   ${e.id}`];
  for (const [k, v] of Object.entries(e.rates)) lines.push(`      ${k.padEnd(24)} ${rateText(v)}`);
  for (const c of e.corrections) lines.push(`      corrected by ${c.id}: checked against ${c.source_url} on ${c.checked_on}`);
  return lines;
}

/** The text `costtrail prices show` prints: every model that prices the name, each dated entry, the one in force marked. */
export function formatShow(r: {
  provider: string;
  model: string;
  at: string;
  in_force: PriceListingEntry | null;
  models: PriceListing[];
}): string {
  const lines = [`${r.provider}/${r.model} at ${r.at}: ${r.in_force ? `priced by ${r.in_force.id}` : "no entry in force"}`];
  for (const m of r.models) {
    lines.push("", `${m.provider}/${m.model}  (source ${m.source}; matches ${JSON.stringify(m.match)})`);
    for (const e of m.entries) lines.push(...printEntry(e, r.in_force?.id === e.id));
  }
  lines.push("", "Rates in USD per million tokens (_mtok) or per thousand (_kcount); (>N: p) is the rate once input passes N tokens.");
  return lines.join("\n");
}

function disagreementRows(ds: readonly PriceDisagreement[]): Array<Record<string, string | null>> {
  return ds.map((d) => ({
    model: `${d.provider}/${d.model}`,
    rate: d.rate,
    costtrail:
      d.costtrail === null
        ? null
        : d.corrections.length > 0
          ? `${d.costtrail} (corrected: ${d.corrections.join(", ")}; upstream ${d.upstream ?? "—"})`
          : d.costtrail,
    litellm: d.litellm_value,
    kind: d.kind,
    "litellm names": d.litellm.length > 3 ? `${d.litellm.slice(0, 3).join(", ")} +${d.litellm.length - 3}` : d.litellm.join(", "),
  }));
}

async function readTable(source: string): Promise<unknown> {
  let text: string;
  try {
    if (/^https?:\/\//.test(source)) {
      const res = await fetch(source);
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      text = await res.text();
    } else text = await readFile(source, "utf8");
  } catch (e) {
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--litellm: cannot read ${source}: ${(e as Error).message}`, { path: ["--litellm"] });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--litellm: ${source} is not JSON: ${(e as Error).message}`, { path: ["--litellm"] });
  }
}

export function registerPrices(program: Command): void {
  const prices = program
    .command("prices")
    .description("the rate cards in force, models seen without a price, and a check against LiteLLM's prices");

  prices
    .command("list")
    .description("every model's rate card entry in force (GET /v1/prices)")
    .option("--provider <provider>", "only this provider (openai, anthropic, google, aws, …)")
    .option("--at <date>", "the entries in force at this ISO date or time (default now)")
    .option("--json", "print the server's JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ServerFlags & { provider?: string; at?: string }) => {
      const params = new URLSearchParams();
      if (flags.provider) params.set("provider", flags.provider);
      if (flags.at) params.set("at", atQuery(flags.at));
      const r = await client(flags).json<{
        at: string;
        models: Array<{ provider: string; model: string; source: string; entry: PriceListingEntry }>;
      }>("GET", `/v1/prices${params.size > 0 ? `?${params}` : ""}`);
      if (flags.json) return write(JSON.stringify(r, null, 2));
      const rows = r.models.map((m) => ({
        model: `${m.provider}/${m.model}`,
        from: m.entry.effective_from,
        input: rateText(m.entry.rates.input_mtok),
        cached: rateText(m.entry.rates.cache_read_mtok),
        "cache write": rateText(m.entry.rates.cache_write_mtok),
        "write 1h": rateText(m.entry.rates.cache_write_1h_mtok),
        output: rateText(m.entry.rates.output_mtok),
        other: otherRates(m.entry) || null,
        source: m.entry.corrections.length > 0 ? `${m.source} + ${m.entry.corrections.map((c) => c.id).join(", ")}` : m.source,
      }));
      write(
        `${formatTable(rows, ["model", "from", "input", "cached", "cache write", "write 1h", "output", "other", "source"])}\n\n${r.models.length} models in force at ${r.at}; USD per million tokens`,
      );
    });

  prices
    .command("show <model>")
    .description("every dated entry of the model that prices <provider>/<model>, tiers, source and corrections")
    .option("--at <date>", "mark the entry in force at this ISO date or time (default now)")
    .option("--json", "print the server's JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (name: string, flags: ServerFlags & { at?: string }) => {
      const slash = name.indexOf("/");
      if (slash <= 0 || slash === name.length - 1)
        throw new CosttrailError(
          "CT_INVALID_ARGUMENT",
          `<model>: give <provider>/<model>, e.g. openai/gpt-4o, got ${JSON.stringify(name)}`,
          {
            path: ["<model>"],
          },
        );
      const path = `/v1/prices/${encodeURIComponent(name.slice(0, slash))}/${encodeURIComponent(name.slice(slash + 1))}`;
      const at = atQuery(flags.at);
      const r = await client(flags).json<Parameters<typeof formatShow>[0]>("GET", `${path}${at ? `?at=${encodeURIComponent(at)}` : ""}`);
      write(flags.json ? JSON.stringify(r, null, 2) : formatShow(r));
    });

  prices
    .command("unpriced")
    .description("models seen without a price: requests, first and last seen, and an estimate at the nearest known model's rate")
    .option("--since <time>", "start: 30d, 24h, or an ISO time (default: all time)")
    .option("--until <time>", "end: a duration ago or an ISO time (default now)")
    .option("--json", "print the server's JSON")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ServerFlags & { since?: string; until?: string }) => {
      const params = new URLSearchParams();
      const now = Date.now();
      if (flags.since) params.set("from", parseTimeArg(flags.since, "--since", now));
      if (flags.until) params.set("to", parseTimeArg(flags.until, "--until", now));
      type Unpriced = {
        provider: string;
        model: string;
        requests: number;
        first_seen: string;
        last_seen: string;
        estimate: { basis: string; cost_usd: string } | null;
      };
      const r = await client(flags).json<{ models: Unpriced[] }>("GET", `/v1/prices/unpriced${params.size > 0 ? `?${params}` : ""}`);
      if (flags.json) return write(JSON.stringify(r, null, 2));
      if (r.models.length === 0) return write("Every model seen has a price.");
      const rows = r.models.map((m) => ({
        model: `${m.provider}/${m.model}`,
        requests: m.requests,
        "first seen": m.first_seen,
        "last seen": m.last_seen,
        "estimate (USD)": m.estimate ? `≈ ${m.estimate.cost_usd}` : null,
        "estimated at": m.estimate?.basis ?? null,
      }));
      write(
        `${formatTable(rows, ["model", "requests", "first seen", "last seen", "estimate (USD)", "estimated at"])}\n\n` +
          "Estimates use the nearest known model's rate and are never recorded; price a model with pricing.models in costtrail.yaml.",
      );
    });

  prices
    .command("check")
    .description("compare the rate card (genai-prices with Costtrail's corrections) with LiteLLM's price table")
    .option("--litellm <file|url>", "LiteLLM's model_prices_and_context_window.json", LITELLM_TABLE_URL)
    .option("--provider <list>", "only these providers, comma-separated")
    .option("--seen", "only models seen in the ledger (asks the server)")
    .option("--at <date>", "compare the entries in force at this ISO date (default now)")
    .option("--json", "print the disagreements as JSON")
    .option("--url <url>", "server URL, for --seen")
    .option("--api-key <key>", "a read key, for --seen")
    .action(async (flags: ServerFlags & { litellm: string; provider?: string; seen?: boolean; at?: string }) => {
      const at = flags.at ? Date.parse(atQuery(flags.at).length === 10 ? `${flags.at}T00:00:00Z` : (flags.at as string)) : Date.now();
      const [card, upstream, table] = await Promise.all([
        loadDefaultRateCard(),
        upstreamModels().then(({ models, providerFallbacks }) => new RateCard(models, {}, { providerFallbacks })),
        readTable(flags.litellm),
      ]);
      let models: Set<string> | undefined;
      if (flags.seen) {
        const { rows } = await client(flags).json<{ rows: Array<{ provider: string; model: string }> }>("POST", "/v1/query", {
          metrics: ["requests"],
          group_by: ["provider", "model"],
          from: "1970-01-01T00:00:00Z",
        });
        models = new Set(rows.flatMap((r) => card.lookup(r.provider, r.model).map((m) => `${m.provider}/${m.model}`)));
      }
      const providers = flags.provider
        ?.split(",")
        .map((p) => p.trim())
        .filter(Boolean);
      let result: ReturnType<typeof checkAgainstLitellm>;
      try {
        result = checkAgainstLitellm(card, upstream, table, { at, ...(providers && { providers }), ...(models && { models }) });
      } catch (e) {
        throw new CosttrailError("CT_INVALID_ARGUMENT", `--litellm: ${(e as Error).message}`, { path: ["--litellm"] });
      }
      if (flags.json) return write(JSON.stringify(result, null, 2));
      const summary = `${result.compared} LiteLLM entries priced by the same provider's model in both; ${result.disagreements.length} disagreements (USD per million tokens, per thousand for _kcount).`;
      write(
        result.disagreements.length === 0
          ? summary
          : `${formatTable(disagreementRows(result.disagreements), ["model", "rate", "costtrail", "litellm", "kind", "litellm names"])}\n\n${summary}`,
      );
    });
}
