import {
  APIS,
  type Api,
  CosttrailError,
  type Issue,
  type PriceResult,
  type PricingConfig,
  type RateCard,
  formatIssue,
  isApi,
  normalizeUsage,
} from "@costtrail/core";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import { loadConfig } from "@costtrail/server";
import type { Command } from "commander";

export interface PriceOptions {
  api: string;
  model: string;
  usage: string;
  provider?: string;
  at?: string;
  batch?: boolean;
  serviceTier?: string;
  config?: string;
  json?: boolean;
}

/** The provider an API implies when --provider is not given. */
const API_PROVIDER: Record<Api, string | null> = {
  "openai.chat": "openai",
  "openai.responses": "openai",
  "openai.embeddings": "openai",
  "anthropic.messages": "anthropic",
  gemini: "google",
  "bedrock.converse": "bedrock",
  otel: null,
};

export interface PriceReport {
  status: "priced" | "unpriced";
  cost_usd: string | null;
  cost_source: string | null;
  provider: string;
  model: string;
  at: string;
  buckets: Array<{ bucket: string; quantity: number; rate_key: string; rate: string; per: number; tier_start?: number; cost_usd: string }>;
  rate_card: { id: string; provider: string; model: string; source: string; effective_from: string | null; data: string } | null;
  modifiers: Array<{ kind: string; name: string; multiplier: string }>;
  notes: string[];
  reason?: string;
}

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_ARGUMENT", issues.map(formatIssue).join("\n"), { issues });
}

/** Prices one call offline: the same normalizer and rate card the collector uses. */
export async function priceCall(opts: PriceOptions, card?: RateCard): Promise<PriceReport> {
  if (!isApi(opts.api)) {
    throw invalid([
      { code: "invalid_value", path: ["--api"], message: `must be one of ${APIS.join(", ")}, got ${JSON.stringify(opts.api)}` },
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(opts.usage);
  } catch (e) {
    throw invalid([{ code: "invalid_format", path: ["--usage"], message: `is not valid JSON: ${(e as Error).message}` }]);
  }
  const at = opts.at ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(at)) || !/^\d{4}-\d{2}-\d{2}/.test(at)) {
    throw invalid([
      {
        code: "invalid_format",
        path: ["--at"],
        message: `must be an ISO-8601 time such as 2026-11-20T10:00:00Z, got ${JSON.stringify(at)}`,
      },
    ]);
  }
  const normalized = normalizeUsage(opts.api, raw, ["usage"]);
  if (!normalized.ok) throw invalid(normalized.issues);
  const provider = opts.provider ?? API_PROVIDER[opts.api] ?? otelProvider(raw);
  if (provider === null) {
    throw invalid([
      { code: "required", path: ["--provider"], message: "is required with --api otel when the attributes carry no gen_ai.provider.name" },
    ]);
  }
  let rateCard = card;
  if (!rateCard) {
    const pricing: PricingConfig = opts.config ? (await loadConfig(opts.config)).pricing : {};
    rateCard = await loadDefaultRateCard(pricing);
  }
  const result = rateCard.price({
    provider,
    model: opts.model,
    timestamp: at,
    usage: normalized.value,
    ...(opts.batch && { batch: true }),
    ...(opts.serviceTier !== undefined && { serviceTier: opts.serviceTier }),
  });
  return report(result, provider, opts.model, new Date(at).toISOString(), rateCard.dataSource);
}

function otelProvider(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const attrs = ("attributes" in raw ? (raw as { attributes: unknown }).attributes : raw) as Record<string, unknown>;
  const p = attrs?.["gen_ai.provider.name"] ?? attrs?.["gen_ai.system"];
  return typeof p === "string" ? p : null;
}

function report(r: PriceResult, provider: string, model: string, at: string, data: string): PriceReport {
  return {
    status: r.status,
    cost_usd: r.cost?.toString() ?? null,
    cost_source: r.costSource,
    provider,
    model,
    at,
    buckets: r.lines.map((l) => ({
      bucket: l.bucket,
      quantity: l.quantity,
      rate_key: l.rate_key,
      rate: l.rate,
      per: l.per,
      ...(l.tier_start !== undefined && { tier_start: l.tier_start }),
      cost_usd: l.cost.toString(),
    })),
    rate_card: r.entry ? { ...r.entry, data } : null,
    modifiers: r.modifiers.map((m) => ({ ...m })),
    notes: [...r.notes],
    ...(r.status === "unpriced" && { reason: r.reason }),
  };
}

const PER_LABEL: Record<number, string> = { 1000000: "1M", 1000: "1K", 1: "1" };

/** The human-readable form: buckets, the rate applied to each, the entry and its date, the total. */
export function formatPriceReport(p: PriceReport): string {
  const out: string[] = [];
  out.push(`${p.provider} / ${p.model} at ${p.at}`);
  if (p.rate_card) {
    out.push(`rate card entry: ${p.rate_card.id}`);
    out.push(
      `  effective from: ${p.rate_card.effective_from ?? "the first published price"}   source: ${p.rate_card.source === "config" ? "configuration" : p.rate_card.data}`,
    );
  }
  out.push("");
  const rows = [
    ["bucket", "quantity", "rate (USD)", "cost (USD)"],
    ...p.buckets.map((b) => [
      b.bucket,
      String(b.quantity),
      `${b.rate} per ${PER_LABEL[b.per] ?? b.per}${b.tier_start !== undefined ? ` (tier > ${b.tier_start} input)` : ""}`,
      b.cost_usd,
    ]),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) {
    out.push(r.map((c, i) => (i === 1 || i === 3 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  "));
  }
  for (const m of p.modifiers) out.push(`× ${m.multiplier}  ${m.kind}: ${m.name}`);
  out.push("");
  if (p.status === "priced") out.push(`total: $${p.cost_usd} (${p.cost_source})`);
  else out.push(`total: unpriced — ${p.reason}`);
  for (const n of p.notes) out.push(`note: ${n}`);
  return out.join("\n");
}

export function registerPrice(program: Command): void {
  program
    .command("price")
    .description("price one LLM call offline from the provider's raw usage object")
    .requiredOption("--api <api>", `provider API of the usage object: ${APIS.join(", ")}`)
    .requiredOption("--model <model>", "model name as the provider reports it")
    .requiredOption("--usage <json>", "the provider's raw usage JSON (or the whole response body)")
    .option("--provider <provider>", "provider, when the API does not imply it (azure, vertex, bedrock, …)")
    .option("--at <time>", "price with the rate card entry in force at this ISO-8601 time (default: now)")
    .option("--batch", "apply the provider's batch discount")
    .option("--service-tier <tier>", "service tier the call ran on (flex, priority, …)")
    .option("--config <file>", "costtrail.yaml with pricing overrides")
    .option("--json", "print one JSON object")
    .action(async (opts: PriceOptions) => {
      const p = await priceCall(opts);
      process.stdout.write(`${opts.json ? JSON.stringify(p, null, 2) : formatPriceReport(p)}\n`);
    });
}
