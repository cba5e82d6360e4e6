import {
  CosttrailError,
  type Issue,
  type PriceListingEntry,
  type RateCard,
  formatIssue,
  listingEntryAt,
  providerId,
  validateQuery,
} from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { LedgerStore, ModelUsage } from "../store/ledger-store.js";

export interface PriceRoutesOptions {
  readonly store: LedgerStore;
  readonly rateCard: () => RateCard;
}

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_QUERY", issues.map(formatIssue).join("; "), { issues });
}

/** `at`: an ISO date or time, default now. */
function atOf(q: Record<string, unknown>): number {
  if (q.at === undefined) return Date.now();
  const text = String(q.at);
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? Date.parse(`${text}T00:00:00Z`)
    : /^\d{4}-\d{2}-\d{2}T/.test(text)
      ? Date.parse(text)
      : Number.NaN;
  if (Number.isNaN(ms))
    throw invalid([
      {
        code: "invalid_format",
        path: ["query", "at"],
        message: `must be an ISO date or time such as 2026-03-13, got ${JSON.stringify(text)}`,
      },
    ]);
  return ms;
}

function onlyParams(q: Record<string, unknown>, allowed: readonly string[]): void {
  const issues: Issue[] = Object.keys(q)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ code: "unknown_field", path: ["query", k], message: `is not a parameter; parameters: ${allowed.join(", ")}` }));
  if (issues.length > 0) throw invalid(issues);
}

interface UnpricedModel {
  provider: string;
  model: string;
  requests: number;
  first_seen: string;
  last_seen: string;
  tokens: ModelUsage["unpriced_buckets"];
  /** What these requests would cost at the nearest known model's rate in force when last seen: an estimate, never recorded. */
  estimate: { basis: string; entry: string; cost_usd: string; estimate: true } | null;
}

function estimateOf(card: RateCard, u: ModelUsage): UnpricedModel["estimate"] {
  const near = card.nearest(u.provider, u.model);
  if (near === null) return null;
  const r = card.price({
    provider: near.provider,
    model: near.model,
    timestamp: u.last_seen_ms,
    usage: { buckets: u.unpriced_buckets, units: { requests: u.unpriced_requests } },
  });
  if (r.status !== "priced" || r.entry === null) return null;
  return { basis: `${near.provider}/${near.model}`, entry: r.entry.id, cost_usd: r.cost.toString(), estimate: true };
}

/**
 * The rate cards in force: `GET /v1/prices` lists every model's entry at a time,
 * `GET /v1/prices/{provider}/{model}` shows every dated entry of the model that prices a
 * name, and `GET /v1/prices/unpriced` lists the models seen without a price. Registered
 * inside the read API, so each takes a read key and the unpriced list is scoped like any read.
 */
export async function priceRoutes(app: FastifyInstance, opts: PriceRoutesOptions): Promise<void> {
  app.get("/v1/prices", async (request) => {
    const q = request.query as Record<string, unknown>;
    onlyParams(q, ["provider", "at"]);
    const at = atOf(q);
    const provider = q.provider === undefined ? null : providerId(String(q.provider));
    const card = opts.rateCard();
    const models = card
      .listing()
      .filter((m) => provider === null || m.provider === provider)
      .flatMap((m) => {
        const entry = listingEntryAt(m, at);
        return entry === null ? [] : [{ provider: m.provider, model: m.model, source: m.source, match: m.match, entry }];
      });
    return { at: new Date(at).toISOString(), data_source: card.dataSource, models };
  });

  app.get("/v1/prices/unpriced", async (request) => {
    const q = request.query as Record<string, unknown>;
    onlyParams(q, ["from", "to"]);
    const spec = validateQuery({ metrics: ["requests"], from: q.from ?? "1970-01-01T00:00:00Z", ...(q.to !== undefined && { to: q.to }) });
    if (!spec.ok) throw invalid(spec.issues);
    const { from, to } = spec.value;
    const card = opts.rateCard();
    const usage = await opts.store.modelUsage({ from, to }, request.readScope);
    const models: UnpricedModel[] = usage
      .filter((u) => u.unpriced_requests > 0)
      .sort((a, b) => b.unpriced_requests - a.unpriced_requests || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model))
      .map((u) => ({
        provider: u.provider,
        model: u.model,
        requests: u.unpriced_requests,
        first_seen: new Date(u.first_seen_ms).toISOString(),
        last_seen: new Date(u.last_seen_ms).toISOString(),
        tokens: u.unpriced_buckets,
        estimate: estimateOf(card, u),
      }));
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), models };
  });

  app.get<{ Params: { provider: string; "*": string } }>("/v1/prices/:provider/*", async (request) => {
    const q = request.query as Record<string, unknown>;
    onlyParams(q, ["at"]);
    const at = atOf(q);
    const { provider } = request.params;
    const model = request.params["*"];
    if (model === "") throw invalid([{ code: "required", path: ["model"], message: "is required: GET /v1/prices/{provider}/{model}" }]);
    const card = opts.rateCard();
    const models = card.lookup(provider, model);
    if (models.length === 0)
      throw new CosttrailError(
        "CT_PRICE_NOT_FOUND",
        `no rate card entry prices ${provider}/${model}; see GET /v1/prices/unpriced for models seen without a price`,
      );
    // The configured model wins wherever one of its entries is in force.
    let entry: PriceListingEntry | null = null;
    for (const m of models) entry ??= listingEntryAt(m, at);
    return { provider, model, at: new Date(at).toISOString(), in_force: entry, models };
  });
}
