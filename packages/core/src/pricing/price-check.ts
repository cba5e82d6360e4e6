import { isPlainObject } from "../event/fields.js";
import { Decimal } from "../money/decimal.js";
import type { CompiledEntry } from "./compiled-entry.js";
import { providerId } from "./model-name.js";
import { DEFAULT_BATCH_MULTIPLIERS, DEFAULT_SERVICE_TIERS, type RateCard } from "./rate-card.js";
import type { RateKey, RateValue } from "./rates.js";

/**
 * LiteLLM's price table (`model_prices_and_context_window.json`) read as a second source:
 * its per-token USD rates become our per-million (or per-thousand) rates, exactly.
 */
const TOKEN_KEYS: ReadonlyArray<readonly [string, RateKey]> = [
  ["input_cost_per_token", "input_mtok"],
  ["cache_read_input_token_cost", "cache_read_mtok"],
  ["cache_creation_input_token_cost", "cache_write_mtok"],
  ["cache_creation_input_token_cost_above_1hr", "cache_write_1h_mtok"],
  ["output_cost_per_token", "output_mtok"],
  ["output_cost_per_reasoning_token", "output_reasoning_mtok"],
  ["input_cost_per_audio_token", "input_audio_mtok"],
  ["cache_read_input_audio_token_cost", "cache_audio_read_mtok"],
  ["output_cost_per_audio_token", "output_audio_mtok"],
  ["input_cost_per_image_token", "input_image_mtok"],
  ["output_cost_per_image_token", "output_image_mtok"],
];
const TIER_RE = /^(.+)_above_(\d+)k_tokens$/;

/** LiteLLM's `litellm_provider` → the provider name an app reports (then `providerId`). */
const LITELLM_PROVIDERS: Readonly<Record<string, string>> = {
  openai: "openai",
  "text-completion-openai": "openai",
  anthropic: "anthropic",
  gemini: "google",
  "vertex_ai-language-models": "vertex_ai",
  "vertex_ai-anthropic_models": "vertex_ai",
  "vertex_ai-embedding-models": "vertex_ai",
  "vertex_ai-mistral_models": "vertex_ai",
  "vertex_ai-llama_models": "vertex_ai",
  bedrock: "bedrock",
  bedrock_converse: "bedrock",
  azure: "azure",
  azure_ai: "azure",
  mistral: "mistral",
  groq: "groq",
  deepseek: "deepseek",
  xai: "x-ai",
  cohere: "cohere",
  cohere_chat: "cohere",
  together_ai: "together",
  fireworks_ai: "fireworks",
  openrouter: "openrouter",
  perplexity: "perplexity",
  cerebras: "cerebras",
};

/** How two sources differ on one rate of one model. */
export type DisagreementKind = "differs" | "only_costtrail" | "only_litellm";

export interface PriceDisagreement {
  readonly provider: string;
  /** The rate card's model that prices these names. */
  readonly model: string;
  /** Its entry in force at the checked time. */
  readonly entry: string;
  /** The LiteLLM names that resolve to it and carry this value. */
  readonly litellm: readonly string[];
  /** `input_mtok`, `input_mtok>200000` (a long-context tier), `batch:output_mtok`, `flex:input_mtok`, `requests_kcount`. */
  readonly rate: string;
  readonly kind: DisagreementKind;
  /** What Costtrail prices with (upstream with corrections), in the rate's unit. */
  readonly costtrail: string | null;
  /** The upstream value, where a correction changed it. */
  readonly upstream?: string | null;
  readonly litellm_value: string | null;
  /** Corrections that set the Costtrail value. */
  readonly corrections: readonly string[];
}

export interface PriceCheckResult {
  /** LiteLLM entries whose model the rate card also prices, under the same provider. */
  readonly compared: number;
  readonly disagreements: PriceDisagreement[];
}

export interface PriceCheckOptions {
  /** Only these providers (price-data ids such as `openai`, `aws`). */
  readonly providers?: readonly string[];
  /** Only names that resolve to these rate-card models (`provider/model`), e.g. the models seen in the ledger. */
  readonly models?: ReadonlySet<string>;
  /** The time whose entries are compared (epoch ms). */
  readonly at: number;
}

function perToken(v: unknown): Decimal | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Decimal.fromPublishedNumber(v) : null;
}

function text(d: Decimal | null): string | null {
  return d === null ? null : d.normalize().toString();
}

function baseOf(v: RateValue | undefined): Decimal | null {
  if (v === undefined) return null;
  return Decimal.parse(typeof v === "string" ? v : v.base);
}

function tiersOf(v: RateValue | undefined): Map<number, Decimal> {
  const out = new Map<number, Decimal>();
  if (v !== undefined && typeof v !== "string") for (const t of v.tiers) out.set(t.start, Decimal.parse(t.price));
  return out;
}

/** A LiteLLM key's model name as an app would report it: the routing prefix dropped. */
function litellmName(key: string, litellmProvider: string): string {
  const slash = key.indexOf("/");
  if (slash < 0) return key;
  const prefix = key.slice(0, slash);
  if (prefix === litellmProvider || LITELLM_PROVIDERS[prefix] !== undefined || prefix === "vertex_ai") return key.slice(slash + 1);
  return key;
}

interface Side {
  readonly costtrail: Decimal | null;
  readonly upstream: Decimal | null;
  readonly litellm: Decimal | null;
}

/** Every rate LiteLLM publishes for one entry, next to ours, keyed by our rate name. */
function sides(item: Record<string, unknown>, entry: CompiledEntry, upstream: CompiledEntry | null): Map<string, Side> {
  const out = new Map<string, Side>();
  const mtok = (v: unknown) => perToken(v)?.mulInt(1_000_000) ?? null;
  for (const [lk, key] of TOKEN_KEYS) {
    const ours = entry.rates[key];
    const up = upstream?.rates[key];
    out.set(key, { costtrail: baseOf(ours), upstream: baseOf(up), litellm: mtok(item[lk]) });
    const theirTiers = new Map<number, Decimal>();
    for (const [k, v] of Object.entries(item)) {
      const m = TIER_RE.exec(k);
      const d = m && m[1] === lk ? mtok(v) : null;
      if (m && d) theirTiers.set(Number(m[2]) * 1000, d);
    }
    const ourTiers = tiersOf(ours);
    const upTiers = tiersOf(up);
    for (const start of new Set([...ourTiers.keys(), ...theirTiers.keys()])) {
      out.set(`${key}>${start}`, {
        costtrail: ourTiers.get(start) ?? null,
        upstream: upTiers.get(start) ?? null,
        litellm: theirTiers.get(start) ?? null,
      });
    }
  }
  const provider = entry.provider;
  const batch = DEFAULT_BATCH_MULTIPLIERS[provider];
  for (const [lk, key] of [
    ["input_cost_per_token_batches", "input_mtok"],
    ["output_cost_per_token_batches", "output_mtok"],
  ] as const) {
    const theirs = mtok(item[lk]);
    if (theirs === null) continue;
    const base = baseOf(entry.rates[key]);
    const ours = base && batch !== undefined ? base.mul(Decimal.parse(batch)) : null;
    out.set(`batch:${key}`, { costtrail: ours, upstream: ours, litellm: theirs });
  }
  for (const tier of ["flex", "priority"]) {
    for (const [lk, key] of [
      [`input_cost_per_token_${tier}`, "input_mtok"],
      [`output_cost_per_token_${tier}`, "output_mtok"],
    ] as const) {
      const theirs = mtok(item[lk]);
      if (theirs === null) continue;
      const m = DEFAULT_SERVICE_TIERS[provider]?.[tier];
      const base = baseOf(entry.rates[key]);
      const ours = base && m !== undefined ? base.mul(Decimal.parse(m)) : null;
      out.set(`${tier}:${key}`, { costtrail: ours, upstream: ours, litellm: theirs });
    }
  }
  const perRequest = perToken(item.input_cost_per_request);
  out.set("requests_kcount", {
    costtrail: baseOf(entry.rates.requests_kcount),
    upstream: baseOf(upstream?.rates.requests_kcount),
    litellm: perRequest?.mulInt(1000) ?? null,
  });
  const search = isPlainObject(item.search_context_cost_per_query)
    ? perToken(item.search_context_cost_per_query.search_context_size_medium)
    : null;
  if (search !== null || entry.rates.web_searches_kcount !== undefined) {
    out.set("web_searches_kcount", {
      costtrail: baseOf(entry.rates.web_searches_kcount),
      upstream: baseOf(upstream?.rates.web_searches_kcount),
      litellm: search?.mulInt(1000) ?? null,
    });
  }
  return out;
}

/**
 * Compares the rate card with LiteLLM's table for every model both price under the same
 * provider: each bucket's rate, long-context tiers, cache reads and writes, batch and
 * flex prices, per-request and web-search fees, and rates one side has and the other lacks.
 * `upstreamCard` is the same price data without corrections, to show what a correction changed.
 */
export function checkAgainstLitellm(card: RateCard, upstreamCard: RateCard, litellm: unknown, opts: PriceCheckOptions): PriceCheckResult {
  if (!isPlainObject(litellm)) throw new TypeError("the LiteLLM price table must be a JSON object keyed by model name");
  const groups = new Map<string, PriceDisagreement & { litellm: string[] }>();
  const providers = opts.providers ? new Set(opts.providers.map(providerId)) : null;
  let compared = 0;
  for (const [key, item] of Object.entries(litellm)) {
    if (!isPlainObject(item) || key === "sample_spec" || typeof item.litellm_provider !== "string") continue;
    const reported = LITELLM_PROVIDERS[item.litellm_provider];
    if (reported === undefined) continue;
    const provider = providerId(reported);
    if (providers && !providers.has(provider)) continue;
    const name = litellmName(key, item.litellm_provider);
    const entry = card.entryFor(reported, name, opts.at);
    // Both must know the model under this provider: a vendor's own price used as a fallback is not a second opinion.
    if (entry === null || entry.provider !== provider) continue;
    if (opts.models && !opts.models.has(`${entry.provider}/${entry.model}`)) continue;
    compared++;
    const upstream = upstreamCard.entryFor(reported, name, opts.at);
    for (const [rate, s] of sides(item, entry, upstream?.model === entry.model ? upstream : null)) {
      if (s.costtrail === null && s.litellm === null) continue;
      if (s.costtrail !== null && s.litellm !== null && s.costtrail.eq(s.litellm)) continue;
      const kind: DisagreementKind = s.costtrail === null ? "only_litellm" : s.litellm === null ? "only_costtrail" : "differs";
      const ct = text(s.costtrail);
      const ll = text(s.litellm);
      const id = `${entry.provider}/${entry.model}\u0000${rate}\u0000${ct}\u0000${ll}`;
      const existing = groups.get(id);
      if (existing) {
        existing.litellm.push(key);
        continue;
      }
      const up = text(s.upstream);
      const corrections = entry.corrections.map((c) => c.id);
      groups.set(id, {
        provider: entry.provider,
        model: entry.model,
        entry: entry.id,
        litellm: [key],
        rate,
        kind,
        costtrail: ct,
        ...(up !== ct && { upstream: up }),
        litellm_value: ll,
        corrections: up !== ct ? corrections : [],
      });
    }
  }
  const disagreements = [...groups.values()].sort(
    (a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model) || a.rate.localeCompare(b.rate),
  );
  return { compared, disagreements };
}
