import type { Issue } from "../errors.js";
import { Decimal } from "../money/decimal.js";
import { type NormalizedUsage, TOKEN_BUCKETS, type TokenBucket, UNIT_KINDS, type UnitKind, totalInputTokens } from "../usage/buckets.js";
import { type CompiledEntry, type CompiledRate, assertNoIssues, compileEntry, entryInForce } from "./compiled-entry.js";
import type { CorrectionRef } from "./corrections.js";
import { type MatchLogic, compileMatch } from "./model-match.js";
import { nameCandidates, providerId } from "./model-name.js";
import type { ModelPriceSpec } from "./model-price.js";
import { BUCKET_RATE_CHAIN, type RateKey, type Rates } from "./rates.js";

/** Buckets whose own rate, when missing, falls back to the text rate: said in the result's notes. */
const MODALITY_BUCKETS: ReadonlySet<TokenBucket> = new Set([
  "input_audio_tokens",
  "cache_read_audio_tokens",
  "output_audio_tokens",
  "input_image_tokens",
  "output_image_tokens",
]);
import type { PricingConfig } from "./pricing-config.js";

export type CostSource = "computed" | "provider" | "caller_estimate";

export interface PriceInput {
  readonly provider: string;
  readonly model: string;
  /** Event time, as epoch milliseconds or an ISO string: the rate card entry in force then prices it. */
  readonly timestamp: number | string;
  readonly usage: NormalizedUsage;
  readonly batch?: boolean;
  readonly serviceTier?: string;
  /** A cost the caller already knows (decimal string), recorded as an estimate. */
  readonly callerCost?: string;
  /** A cost the provider reported in its response (decimal string). */
  readonly providerCost?: string;
}

export interface PriceLine {
  readonly bucket: TokenBucket | UnitKind;
  readonly quantity: number;
  readonly rate_key: RateKey;
  /** The published rate applied, after tier selection, in USD per `per` units. */
  readonly rate: string;
  readonly per: number;
  /** The tier start passed, when a long-context tier applied. */
  readonly tier_start?: number;
  readonly cost: Decimal;
}

export interface RateCardEntryRef {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly source: string;
  readonly effective_from: string | null;
  /** Hand-checked corrections of the upstream rates that this entry carries. */
  readonly corrections: readonly CorrectionRef[];
}

export interface PriceModifier {
  readonly kind: "batch" | "service_tier" | "discount";
  readonly name: string;
  readonly multiplier: string;
}

export type PriceResult =
  | {
      readonly status: "priced";
      readonly cost: Decimal;
      readonly costSource: CostSource;
      /** What the rate card computes, when it can; kept beside a caller's or provider's figure. */
      readonly computedCost: Decimal | null;
      readonly lines: readonly PriceLine[];
      readonly entry: RateCardEntryRef | null;
      readonly modifiers: readonly PriceModifier[];
      readonly notes: readonly string[];
    }
  | {
      readonly status: "unpriced";
      readonly cost: null;
      readonly costSource: null;
      readonly computedCost: null;
      readonly lines: readonly PriceLine[];
      readonly entry: RateCardEntryRef | null;
      readonly modifiers: readonly PriceModifier[];
      readonly reason: string;
      readonly notes: readonly string[];
    };

/** One dated entry of a model, as listings show it. */
export interface PriceListingEntry {
  readonly id: string;
  readonly effective_from: string | null;
  readonly time_of_day: { readonly start: string; readonly end: string } | null;
  readonly rates: Rates;
  readonly corrections: readonly CorrectionRef[];
}

/** A model the card prices, with every dated entry: what `costtrail prices list` and `show` print. */
export interface PriceListing {
  readonly provider: string;
  readonly model: string;
  /** `genai-prices@0.1.8`, `corrections` (a model only the corrections add) or `config`. */
  readonly source: string;
  readonly match: MatchLogic;
  readonly entries: readonly PriceListingEntry[];
}

interface ResolvedModel {
  /** Config entries first: they win wherever one is in force. */
  readonly tiers: ReadonlyArray<readonly CompiledEntry[]>;
}

interface CompiledModel {
  readonly spec: ModelPriceSpec;
  readonly matches: (name: string) => boolean;
  readonly entries: readonly CompiledEntry[];
}

const RESOLVE_CACHE_LIMIT = 50_000;
const ONE = Decimal.fromInt(1);

/** Published batch discounts: 50% off token prices at OpenAI, Anthropic, Google, Bedrock, Azure OpenAI and Mistral. */
export const DEFAULT_BATCH_MULTIPLIERS: Readonly<Record<string, string>> = {
  openai: "0.5",
  anthropic: "0.5",
  google: "0.5",
  aws: "0.5",
  azure: "0.5",
  mistral: "0.5",
};

/** OpenAI Flex processing is billed at Batch API rates. */
export const DEFAULT_SERVICE_TIERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  openai: { flex: "0.5", default: "1", auto: "1" },
  anthropic: { standard: "1", standard_only: "1" },
};

/**
 * A set of model prices, each with its dated entries, plus the account's adjustments
 * (batch, service tiers, negotiated discounts, aliases). Looking a model up costs one map
 * read after the first time a name is seen; pricing is bigint arithmetic on precompiled rates.
 */
export class RateCard {
  private readonly byProvider = new Map<string, CompiledModel[]>();
  private readonly configByProvider = new Map<string, CompiledModel[]>();
  private readonly resolved = new Map<string, Map<string, ResolvedModel | null>>();
  private resolvedCount = 0;
  private readonly refs = new WeakMap<CompiledEntry, RateCardEntryRef>();
  private readonly batch: Map<string, Decimal>;
  private readonly serviceTiers: Map<string, Map<string, Decimal>>;
  private readonly discounts: Map<string, { percent: string; multiplier: Decimal }>;
  private readonly aliases: Map<string, { provider: string; model: string }>;
  private readonly fallbacks: Map<string, readonly string[]>;

  /** The price data's own name and version, e.g. `@pydantic/genai-prices@0.1.8`. */
  readonly dataSource: string;

  constructor(
    defaults: readonly ModelPriceSpec[],
    config: PricingConfig = {},
    options: { dataSource?: string; providerFallbacks?: Record<string, readonly string[]> } = {},
  ) {
    this.dataSource = options.dataSource ?? "none";
    const issues: Issue[] = [];
    this.addModels(this.byProvider, defaults, ["defaults"], issues);
    this.addModels(
      this.configByProvider,
      (config.models ?? []).map((m) => ({ ...m, provider: providerId(m.provider), source: "config" })),
      ["pricing", "models"],
      issues,
    );
    assertNoIssues(issues);
    this.fallbacks = new Map(Object.entries(options.providerFallbacks ?? {}));
    this.batch = new Map(
      Object.entries({ ...DEFAULT_BATCH_MULTIPLIERS, ...config.batch }).map(([p, m]) => [providerId(p), Decimal.parse(m)]),
    );
    this.serviceTiers = new Map();
    for (const source of [DEFAULT_SERVICE_TIERS, config.service_tiers ?? {}]) {
      for (const [p, tiers] of Object.entries(source)) {
        const map = this.serviceTiers.get(providerId(p)) ?? new Map<string, Decimal>();
        for (const [tier, m] of Object.entries(tiers)) map.set(tier.toLowerCase(), Decimal.parse(m));
        this.serviceTiers.set(providerId(p), map);
      }
    }
    this.discounts = new Map(
      Object.entries(config.discounts ?? {}).map(([p, percent]) => [
        providerId(p),
        { percent, multiplier: Decimal.fromInt(100).sub(Decimal.parse(percent)).shift(2) },
      ]),
    );
    this.aliases = new Map(
      (config.aliases ?? []).map((a) => [
        `${providerId(a.provider)}\u0000${a.model.toLowerCase()}`,
        { provider: a.maps_to.provider, model: a.maps_to.model },
      ]),
    );
  }

  private addModels(
    into: Map<string, CompiledModel[]>,
    specs: readonly ModelPriceSpec[],
    path: Array<string | number>,
    issues: Issue[],
  ): void {
    specs.forEach((spec, i) => {
      const entries: CompiledEntry[] = [];
      const ordered =
        spec.source === "config"
          ? [...spec.prices].sort((a, b) => (a.effective_from ?? "").localeCompare(b.effective_from ?? ""))
          : spec.prices;
      ordered.forEach((entry, j) => {
        const c = compileEntry(spec, entry, [...path, i, "prices", j], issues);
        if (c) entries.push(c);
      });
      const list = into.get(spec.provider) ?? [];
      list.push({ spec, matches: compileMatch(spec.match ?? { equals: spec.model }), entries });
      into.set(spec.provider, list);
    });
  }

  /** Every model the card knows, for listings and `costtrail price --list`. */
  models(): Array<{ provider: string; model: string; source: string }> {
    const out: Array<{ provider: string; model: string; source: string }> = [];
    for (const map of [this.configByProvider, this.byProvider]) {
      for (const list of map.values())
        for (const m of list) out.push({ provider: m.spec.provider, model: m.spec.model, source: m.spec.source });
    }
    return out;
  }

  /** The account's adjustments as data (batch, service tiers, discounts, aliases): with `listing`, all that prices an event. */
  settings(): Record<string, unknown> {
    const text = (m: Map<string, { toString(): string }>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));
    return {
      batch: text(this.batch),
      service_tiers: Object.fromEntries([...this.serviceTiers].map(([p, m]) => [p, text(m)])),
      discounts: Object.fromEntries([...this.discounts].map(([p, d]) => [p, d.percent])),
      aliases: Object.fromEntries(this.aliases),
      fallbacks: Object.fromEntries(this.fallbacks),
    };
  }

  /** Every model with its dated entries, configured ones first. */
  listing(): PriceListing[] {
    const out: PriceListing[] = [];
    for (const map of [this.configByProvider, this.byProvider]) {
      for (const list of map.values()) for (const m of list) out.push(listingOf(m));
    }
    return out;
  }

  /**
   * The models that price a reported (provider, model): the configured one first, then the
   * price data's (corrections applied). Empty when the card does not know the name.
   */
  lookup(provider: string, model: string): PriceListing[] {
    const out: PriceListing[] = [];
    const alias = this.aliases.get(`${providerId(provider)}\u0000${model.trim().toLowerCase()}`);
    const candidates = [...(alias ? nameCandidates(alias.provider, alias.model) : []), ...nameCandidates(provider, model)];
    for (const map of [this.configByProvider, this.byProvider]) {
      for (const c of candidates) {
        const hit = this.findIn(map, c.provider, c.model);
        if (hit) {
          out.push(listingOf(hit));
          break;
        }
      }
    }
    return out;
  }

  /**
   * The known model of the same provider whose name is closest to an unknown one (longest
   * common start, then nearest length): the basis of an estimate for an unpriced model.
   */
  nearest(provider: string, model: string): PriceListing | null {
    let best = null as { m: CompiledModel; prefix: number; diff: number } | null;
    for (const c of nameCandidates(provider, model)) {
      for (const map of [this.configByProvider, this.byProvider]) {
        for (const m of map.get(c.provider) ?? []) {
          const id = m.spec.model.toLowerCase();
          let prefix = 0;
          while (prefix < id.length && prefix < c.model.length && id[prefix] === c.model[prefix]) prefix++;
          const diff = Math.abs(id.length - c.model.length);
          if (prefix >= 3 && (!best || prefix > best.prefix || (prefix === best.prefix && diff < best.diff))) best = { m, prefix, diff };
        }
      }
      if (best) break;
    }
    return best ? listingOf(best.m) : null;
  }

  private findIn(map: Map<string, CompiledModel[]>, provider: string, model: string, depth = 0): CompiledModel | undefined {
    const hit = map.get(provider)?.find((m) => m.matches(model));
    if (hit || depth > 2) return hit;
    for (const fb of this.fallbacks.get(provider) ?? []) {
      const f = this.findIn(map, fb, model, depth + 1);
      if (f) return f;
    }
    return undefined;
  }

  /** The compiled entries for a reported (provider, model), config first; null when unknown. */
  private resolve(provider: string, model: string): ResolvedModel | null {
    let byModel = this.resolved.get(provider);
    const cached = byModel?.get(model);
    if (cached !== undefined) return cached;
    let candidates = nameCandidates(provider, model);
    const alias = this.aliases.get(`${providerId(provider)}\u0000${model.trim().toLowerCase()}`);
    if (alias) candidates = [...nameCandidates(alias.provider, alias.model), ...candidates];
    let fromConfig: CompiledModel | undefined;
    let fromDefaults: CompiledModel | undefined;
    for (const c of candidates) {
      fromConfig ??= this.findIn(this.configByProvider, c.provider, c.model);
      fromDefaults ??= this.findIn(this.byProvider, c.provider, c.model);
      if (fromConfig && fromDefaults) break;
    }
    const tiers = [fromConfig?.entries, fromDefaults?.entries].filter(
      (e): e is readonly CompiledEntry[] => e !== undefined && e.length > 0,
    );
    const result = tiers.length > 0 ? { tiers } : null;
    // Bounded: a stream of junk model names must not grow memory without limit.
    if (this.resolvedCount >= RESOLVE_CACHE_LIMIT) {
      this.resolved.clear();
      this.resolvedCount = 0;
      byModel = undefined;
    }
    if (!byModel) this.resolved.set(provider, (byModel = new Map()));
    byModel.set(model, result);
    this.resolvedCount++;
    return result;
  }

  /** The entry that prices this model at this time, or null when the model is unknown. */
  entryFor(provider: string, model: string, timestamp: number | string): CompiledEntry | null {
    const ms = typeof timestamp === "number" ? timestamp : Date.parse(timestamp);
    const r = this.resolve(provider, model);
    if (r === null) return null;
    for (const entries of r.tiers) {
      const e = entryInForce(entries, ms);
      if (e) return e;
    }
    return null;
  }

  price(input: PriceInput): PriceResult {
    const entry = this.entryFor(input.provider, input.model, input.timestamp);
    const notes: string[] = [];
    const override = input.callerCost ?? input.providerCost;
    const overrideSource: CostSource | null =
      input.callerCost !== undefined ? "caller_estimate" : input.providerCost !== undefined ? "provider" : null;
    if (entry === null) {
      if (override !== undefined && overrideSource !== null) {
        return {
          status: "priced",
          cost: Decimal.parse(override),
          costSource: overrideSource,
          computedCost: null,
          lines: [],
          entry: null,
          modifiers: [],
          notes: [`no rate card entry for ${input.provider}/${input.model}`],
        };
      }
      return unpriced(`no rate card entry for ${input.provider}/${input.model}`, null, [], [], notes);
    }
    let ref = this.refs.get(entry);
    if (!ref) {
      ref = Object.freeze({
        id: entry.id,
        provider: entry.provider,
        model: entry.model,
        source: entry.source,
        effective_from: entry.effectiveFrom,
        corrections: entry.corrections,
      });
      this.refs.set(entry, ref);
    }
    for (const c of entry.corrections) notes.push(`rate corrected by ${c.id}, checked against ${c.source_url} on ${c.checked_on}`);
    const { buckets, units } = input.usage;
    const totalIn = totalInputTokens(buckets);
    const lines: PriceLine[] = [];
    let tokenCoef = 0n;
    const missing: string[] = [];
    for (let i = 0; i < TOKEN_BUCKETS.length; i++) {
      const bucket = TOKEN_BUCKETS[i] as TokenBucket;
      const qty = buckets[bucket];
      if (!qty) continue;
      const rate = entry.bucketRates[i];
      if (!rate) {
        missing.push(bucket);
        continue;
      }
      if (rate.key !== BUCKET_RATE_CHAIN[bucket][0] && MODALITY_BUCKETS.has(bucket)) {
        notes.push(`${bucket} priced at ${rate.key}: ${entry.id} has no ${BUCKET_RATE_CHAIN[bucket][0]}`);
      }
      const { coef, text, tierStart } = pickTier(rate, totalIn);
      const lineCoef = coef * BigInt(qty);
      tokenCoef += lineCoef;
      lines.push(line(bucket, qty, rate, text, tierStart, lineCoef, entry.scale));
    }
    let unitCoef = 0n;
    const requestRate = entry.unitRates[0];
    for (let i = 0; i < UNIT_KINDS.length; i++) {
      const unit = UNIT_KINDS[i] as UnitKind;
      // Every event is one request unless it says otherwise, so per-request fees are never skipped.
      const qty = unit === "requests" && requestRate ? (units.requests ?? 1) : units[unit];
      if (!qty) continue;
      const rate = entry.unitRates[i];
      if (!rate) {
        if (unit !== "requests" && unit !== "tool_calls") notes.push(`no rate for ${unit}; not charged`);
        continue;
      }
      const lineCoef = rate.base * BigInt(qty);
      unitCoef += lineCoef;
      lines.push(line(unit, qty, rate, rate.baseText, undefined, lineCoef, entry.scale));
    }
    if (missing.length > 0) {
      return unpriced(`no rate for ${missing.join(", ")} in ${entry.id}`, ref, lines, [], notes);
    }
    const modifiers: PriceModifier[] = [];
    let tokenCost = Decimal.of(tokenCoef, entry.scale);
    const pid = entry.provider;
    if (input.batch) {
      const m = this.batch.get(pid);
      if (m) {
        tokenCost = tokenCost.mul(m);
        modifiers.push({ kind: "batch", name: "batch", multiplier: m.toString() });
      } else notes.push(`no batch discount known for ${pid}; priced at standard rates`);
    }
    if (input.serviceTier !== undefined && !input.batch) {
      const m = this.serviceTiers.get(pid)?.get(input.serviceTier.toLowerCase());
      if (m) {
        if (!m.eq(ONE)) {
          tokenCost = tokenCost.mul(m);
          modifiers.push({ kind: "service_tier", name: input.serviceTier, multiplier: m.toString() });
        }
      } else notes.push(`no price rule for service tier ${JSON.stringify(input.serviceTier)} at ${pid}; priced at standard rates`);
    }
    let cost = tokenCost.add(Decimal.of(unitCoef, entry.scale));
    const discount = this.discounts.get(pid);
    if (discount) {
      cost = cost.mul(discount.multiplier);
      modifiers.push({ kind: "discount", name: `${discount.percent}% negotiated`, multiplier: discount.multiplier.toString() });
    }
    if (override !== undefined && overrideSource !== null) {
      return {
        status: "priced",
        cost: Decimal.parse(override),
        costSource: overrideSource,
        computedCost: cost,
        lines,
        entry: ref,
        modifiers,
        notes,
      };
    }
    return { status: "priced", cost, costSource: "computed", computedCost: cost, lines, entry: ref, modifiers, notes };
  }
}

function secondsOf(text: string): number {
  const [h = 0, m = 0, sec = 0] = text.replace("Z", "").split(":").map(Number);
  return h * 3600 + m * 60 + sec;
}

/** The entry of a listed model in force at `ms`, picked as pricing picks it (dates, then time-of-day windows). */
export function listingEntryAt(listing: PriceListing, ms: number): PriceListingEntry | null {
  for (let i = listing.entries.length - 1; i >= 0; i--) {
    const e = listing.entries[i] as PriceListingEntry;
    const from =
      e.effective_from === null
        ? Number.NEGATIVE_INFINITY
        : Date.parse(e.effective_from.length === 10 ? `${e.effective_from}T00:00:00Z` : e.effective_from);
    if (ms < from) continue;
    if (e.time_of_day !== null) {
      const d = new Date(ms);
      const sec = d.getUTCHours() * 3600 + d.getUTCMinutes() * 60 + d.getUTCSeconds();
      const start = secondsOf(e.time_of_day.start);
      const end = secondsOf(e.time_of_day.end);
      if (!(end < start ? sec >= start || sec < end : sec >= start && sec < end)) continue;
    }
    return e;
  }
  return null;
}

function listingOf(m: CompiledModel): PriceListing {
  return {
    provider: m.spec.provider,
    model: m.spec.model,
    source: m.spec.source,
    match: m.spec.match ?? { equals: m.spec.model },
    entries: m.entries.map((e) => ({
      id: e.id,
      effective_from: e.effectiveFrom,
      time_of_day: e.window,
      rates: e.rates,
      corrections: e.corrections,
    })),
  };
}

function pickTier(rate: CompiledRate, totalInput: number): { coef: bigint; text: string; tierStart: number | undefined } {
  let coef = rate.base;
  let text = rate.baseText;
  let tierStart: number | undefined;
  for (const t of rate.tiers) {
    if (totalInput > t.start) {
      coef = t.coef;
      text = t.text;
      tierStart = t.start;
    }
  }
  return { coef, text, tierStart };
}

function line(
  bucket: TokenBucket | UnitKind,
  quantity: number,
  rate: CompiledRate,
  text: string,
  tierStart: number | undefined,
  coef: bigint,
  scale: number,
): PriceLine {
  const base = { bucket, quantity, rate_key: rate.key, rate: text, per: rate.per, cost: Decimal.of(coef, scale) };
  return tierStart === undefined ? base : { ...base, tier_start: tierStart };
}

function unpriced(
  reason: string,
  entry: RateCardEntryRef | null,
  lines: PriceLine[],
  modifiers: PriceModifier[],
  notes: string[],
): PriceResult {
  return { status: "unpriced", cost: null, costSource: null, computedCost: null, lines, entry, modifiers, reason, notes };
}
