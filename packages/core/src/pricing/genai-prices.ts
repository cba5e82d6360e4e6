import { isPlainObject } from "../event/fields.js";
import { Decimal } from "../money/decimal.js";
import type { MatchLogic } from "./model-match.js";
import type { ModelPriceSpec, PriceEntrySpec } from "./model-price.js";
import type { RateKey, RateValue, Rates } from "./rates.js";

/** The price data package's key for each of our rate keys; keys we do not bill yet are skipped. */
const KEY_MAP: Record<string, RateKey> = {
  input_mtok: "input_mtok",
  output_mtok: "output_mtok",
  cache_read_mtok: "cache_read_mtok",
  cache_write_mtok: "cache_write_mtok",
  cache_write_1h_mtok: "cache_write_1h_mtok",
  output_reasoning_mtok: "output_reasoning_mtok",
  input_audio_mtok: "input_audio_mtok",
  cache_audio_read_mtok: "cache_audio_read_mtok",
  output_audio_mtok: "output_audio_mtok",
  input_image_mtok: "input_image_mtok",
  output_image_mtok: "output_image_mtok",
  requests_kcount: "requests_kcount",
  web_searches_kcount: "web_searches_kcount",
};

/** Structural view of the package's provider data: only what we read. */
export interface GenaiPricesProvider {
  readonly id: string;
  readonly fallback_model_providers?: readonly string[];
  readonly models: ReadonlyArray<{
    readonly id: string;
    readonly match: unknown;
    readonly prices: unknown;
  }>;
}

// The data publishes rates as JSON numbers; their shortest text is the decimal the publisher wrote.
function rateText(n: unknown): string | undefined {
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? Decimal.fromPublishedNumber(n).toString() : undefined;
}

function convertRates(prices: Record<string, unknown>): Rates {
  const out: Partial<Record<RateKey, RateValue>> = {};
  for (const [k, v] of Object.entries(prices)) {
    const key = KEY_MAP[k];
    if (key === undefined) continue;
    if (typeof v === "number") {
      const t = rateText(v);
      if (t !== undefined) out[key] = t;
    } else if (isPlainObject(v) && Array.isArray(v.tiers)) {
      const base = rateText(v.base);
      const tiers = v.tiers.flatMap((t: unknown) => {
        if (!isPlainObject(t) || typeof t.start !== "number") return [];
        const price = rateText(t.price);
        return price === undefined ? [] : [{ start: t.start, price }];
      });
      if (base !== undefined) out[key] = { base, tiers };
    }
  }
  return out;
}

function convertEntries(prices: unknown): PriceEntrySpec[] {
  if (!Array.isArray(prices)) return isPlainObject(prices) ? [{ rates: convertRates(prices) }] : [];
  return prices.flatMap((p: unknown): PriceEntrySpec[] => {
    if (!isPlainObject(p) || !isPlainObject(p.prices)) return [];
    const rates = convertRates(p.prices);
    const c = p.constraint;
    if (!isPlainObject(c)) return [{ rates }];
    if (typeof c.start_date === "string") return [{ effective_from: c.start_date, rates }];
    if (typeof c.start_time === "string" && typeof c.end_time === "string") {
      return [{ time_of_day: { start: c.start_time.replace(/\.\d+/, ""), end: c.end_time.replace(/\.\d+/, "") }, rates }];
    }
    return [];
  });
}

/** Converts the package's provider list into our model specs, exact decimals throughout. */
export function modelSpecsFromGenaiPrices(
  providers: readonly GenaiPricesProvider[],
  source: string,
): {
  models: ModelPriceSpec[];
  providerFallbacks: Record<string, readonly string[]>;
} {
  const models: ModelPriceSpec[] = [];
  const providerFallbacks: Record<string, readonly string[]> = {};
  for (const p of providers) {
    if (p.fallback_model_providers?.length) providerFallbacks[p.id] = p.fallback_model_providers;
    for (const m of p.models) {
      const prices = convertEntries(m.prices);
      if (prices.length === 0) continue;
      models.push({ provider: p.id, model: m.id, match: m.match as MatchLogic, source, prices });
    }
  }
  return { models, providerFallbacks };
}
