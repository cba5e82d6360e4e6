import { type Issue, type IssuePath, type Result, issue } from "../errors.js";
import { isPlainObject } from "../event/fields.js";
import { Decimal } from "../money/decimal.js";
import type { MatchLogic } from "./model-match.js";
import type { PriceEntrySpec } from "./model-price.js";
import { RATE_KEYS, type RateValue, type Rates } from "./rates.js";

/** The `pricing:` section of costtrail.yaml: additions and overrides that win over the defaults. */
export interface PricingConfig {
  /** Custom, fine-tuned or re-priced models, each with dated entries. */
  readonly models?: ReadonlyArray<{ provider: string; model: string; match?: MatchLogic; prices: readonly PriceEntrySpec[] }>;
  /** Names a deployment or gateway uses for a model, e.g. an Azure deployment name. */
  readonly aliases?: ReadonlyArray<{ provider: string; model: string; maps_to: { provider: string; model: string } }>;
  /** Negotiated discount per provider, in percent off ("12.5"). */
  readonly discounts?: Readonly<Record<string, string>>;
  /** Batch price as a multiplier of the standard price, per provider ("0.5"). */
  readonly batch?: Readonly<Record<string, string>>;
  /** Multiplier per provider and service tier ({"openai": {"flex": "0.5"}}). */
  readonly service_tiers?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const TOP_KEYS = ["models", "aliases", "discounts", "batch", "service_tiers"];
const MATCH_KEYS = ["equals", "starts_with", "ends_with", "contains", "regex", "or", "and"];

function decimalText(v: unknown, path: IssuePath, issues: Issue[], opts: { max?: string } = {}): string | undefined {
  // YAML turns 2.50 into a number; accept numbers here and read them as the decimal written.
  const text = typeof v === "number" && Number.isFinite(v) ? String(v) : v;
  if (typeof text !== "string") {
    issues.push(issue("invalid_type", path, `must be a decimal such as "2.50", got ${v === null ? "null" : typeof v}`));
    return undefined;
  }
  const d = Decimal.tryParse(text);
  if (d === null) {
    issues.push(issue("invalid_format", path, `must be a decimal such as "2.50", got ${JSON.stringify(text)}`));
    return undefined;
  }
  if (d.isNegative()) {
    issues.push(issue("negative", path, `must not be negative, got ${text}`));
    return undefined;
  }
  if (opts.max !== undefined && d.cmp(Decimal.parse(opts.max)) > 0) {
    issues.push(issue("too_large", path, `must be at most ${opts.max}, got ${text}`));
    return undefined;
  }
  return d.toString();
}

export function nonEmptyString(v: unknown, path: IssuePath, issues: Issue[]): string | undefined {
  if (typeof v === "string" && v.trim() !== "") return v;
  issues.push(issue(v === undefined ? "required" : "invalid_type", path, v === undefined ? "is required" : "must be a non-empty string"));
  return undefined;
}

export function unknownKeys(v: Record<string, unknown>, allowed: readonly string[], path: IssuePath, issues: Issue[]): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k))
      issues.push(issue("unknown_field", [...path, k], `is not a known field; expected one of ${allowed.join(", ")}`));
  }
}

export function checkMatch(v: unknown, path: IssuePath, issues: Issue[]): MatchLogic | undefined {
  if (!isPlainObject(v) || Object.keys(v).length !== 1) {
    issues.push(issue("invalid_value", path, `must be an object with exactly one of ${MATCH_KEYS.join(", ")}`));
    return undefined;
  }
  const [k, val] = Object.entries(v)[0] as [string, unknown];
  if (k === "or" || k === "and") {
    if (!Array.isArray(val)) {
      issues.push(issue("invalid_type", [...path, k], "must be a list of match rules"));
      return undefined;
    }
    const parts = val.map((p, i) => checkMatch(p, [...path, k, i], issues));
    if (!parts.every((p) => p !== undefined)) return undefined;
    return k === "or" ? { or: parts as MatchLogic[] } : { and: parts as MatchLogic[] };
  }
  if (!MATCH_KEYS.includes(k)) {
    issues.push(issue("unknown_field", [...path, k], `must be one of ${MATCH_KEYS.join(", ")}`));
    return undefined;
  }
  const s = nonEmptyString(val, [...path, k], issues);
  if (s !== undefined && k === "regex") {
    try {
      new RegExp(s);
    } catch (e) {
      issues.push(issue("invalid_format", [...path, k], `is not a valid regular expression: ${(e as Error).message}`));
      return undefined;
    }
  }
  return s === undefined ? undefined : ({ [k]: s } as MatchLogic);
}

export function checkRates(v: unknown, path: IssuePath, issues: Issue[]): Rates | undefined {
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, 'must be an object of rates such as {input_mtok: "2.50", output_mtok: "10"}'));
    return undefined;
  }
  const out: Record<string, RateValue> = {};
  for (const [key, raw] of Object.entries(v)) {
    const p = [...path, key];
    if (!(RATE_KEYS as readonly string[]).includes(key)) {
      issues.push(issue("unknown_field", p, `is not a known rate; expected one of ${RATE_KEYS.join(", ")}`));
      continue;
    }
    if (isPlainObject(raw)) {
      unknownKeys(raw, ["base", "tiers"], p, issues);
      const base = decimalText(raw.base, [...p, "base"], issues);
      if (!Array.isArray(raw.tiers)) {
        issues.push(issue("invalid_type", [...p, "tiers"], "must be a list of {start, price}"));
        continue;
      }
      const tiers = raw.tiers.map((t, i) => {
        const tp = [...p, "tiers", i];
        if (!isPlainObject(t)) {
          issues.push(issue("invalid_type", tp, "must be an object {start, price}"));
          return undefined;
        }
        if (typeof t.start !== "number" || !Number.isSafeInteger(t.start) || t.start < 0) {
          issues.push(issue("invalid_value", [...tp, "start"], "must be a non-negative integer token count"));
          return undefined;
        }
        const price = decimalText(t.price, [...tp, "price"], issues);
        return price === undefined ? undefined : { start: t.start, price };
      });
      if (base !== undefined && tiers.every((t) => t !== undefined))
        out[key] = { base, tiers: tiers as Array<{ start: number; price: string }> };
      continue;
    }
    const d = decimalText(raw, p, issues);
    if (d !== undefined) out[key] = d;
  }
  return out as Rates;
}

function checkModel(v: unknown, path: IssuePath, issues: Issue[]): NonNullable<PricingConfig["models"]>[number] | undefined {
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, "must be an object {provider, model, prices | rates}"));
    return undefined;
  }
  const before = issues.length;
  unknownKeys(v, ["provider", "model", "match", "prices", "rates", "effective_from"], path, issues);
  const provider = nonEmptyString(v.provider, [...path, "provider"], issues);
  const model = nonEmptyString(v.model, [...path, "model"], issues);
  const match = v.match === undefined ? undefined : checkMatch(v.match, [...path, "match"], issues);
  let prices: PriceEntrySpec[] = [];
  if (v.rates !== undefined && v.prices !== undefined) {
    issues.push(issue("invalid_value", [...path, "rates"], "give either rates (one entry) or prices (dated entries), not both"));
  } else if (v.rates !== undefined) {
    const rates = checkRates(v.rates, [...path, "rates"], issues);
    const from = v.effective_from === undefined ? undefined : checkDate(v.effective_from, [...path, "effective_from"], issues);
    if (rates) prices = [from === undefined ? { rates } : { effective_from: from, rates }];
  } else if (Array.isArray(v.prices)) {
    prices = v.prices.flatMap((e, i) => {
      const ep = [...path, "prices", i];
      if (!isPlainObject(e)) {
        issues.push(issue("invalid_type", ep, "must be an object {effective_from, rates}"));
        return [];
      }
      unknownKeys(e, ["effective_from", "rates"], ep, issues);
      const rates = checkRates(e.rates, [...ep, "rates"], issues);
      const from = e.effective_from === undefined ? undefined : checkDate(e.effective_from, [...ep, "effective_from"], issues);
      if (!rates) return [];
      return [from === undefined ? { rates } : { effective_from: from, rates }];
    });
  } else {
    issues.push(issue("required", [...path, "rates"], "is required: give rates, or prices as a list of dated entries"));
  }
  if (issues.length > before || provider === undefined || model === undefined) return undefined;
  return match === undefined ? { provider, model, prices } : { provider, model, match, prices };
}

export function checkDate(v: unknown, path: IssuePath, issues: Issue[]): string | undefined {
  // YAML reads an unquoted 2026-03-13 as a Date.
  const text = v instanceof Date ? v.toISOString() : v;
  if (
    typeof text !== "string" ||
    Number.isNaN(Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text)) ||
    !/^\d{4}-\d{2}-\d{2}/.test(text)
  ) {
    issues.push(issue("invalid_format", path, `must be an ISO date such as "2026-03-13", got ${JSON.stringify(v)}`));
    return undefined;
  }
  return text;
}

function checkDecimalMap(v: unknown, path: IssuePath, issues: Issue[], opts: { max?: string }): Record<string, string> | undefined {
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, "must be an object keyed by provider"));
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(v)) {
    const d = decimalText(raw, [...path, k], issues, opts);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

/** Checks the `pricing:` section; every problem comes back with its path (`pricing.models[2].rates.input_mtok`). */
export function validatePricingConfig(value: unknown, path: IssuePath = ["pricing"]): Result<PricingConfig> {
  const issues: Issue[] = [];
  if (value === undefined || value === null) return { ok: true, value: {} };
  if (!isPlainObject(value)) return { ok: false, issues: [issue("invalid_type", path, "must be an object")] };
  unknownKeys(value, TOP_KEYS, path, issues);
  const out: { -readonly [K in keyof PricingConfig]: PricingConfig[K] } = {};
  if (value.models !== undefined) {
    if (!Array.isArray(value.models)) issues.push(issue("invalid_type", [...path, "models"], "must be a list"));
    else out.models = value.models.map((m, i) => checkModel(m, [...path, "models", i], issues)).filter((m) => m !== undefined);
  }
  if (value.aliases !== undefined) {
    if (!Array.isArray(value.aliases)) issues.push(issue("invalid_type", [...path, "aliases"], "must be a list"));
    else
      out.aliases = value.aliases.flatMap((a, i) => {
        const ap = [...path, "aliases", i];
        if (!isPlainObject(a) || !isPlainObject(a.maps_to)) {
          issues.push(issue("invalid_type", ap, "must be an object {provider, model, maps_to: {provider, model}}"));
          return [];
        }
        unknownKeys(a, ["provider", "model", "maps_to"], ap, issues);
        const provider = nonEmptyString(a.provider, [...ap, "provider"], issues);
        const model = nonEmptyString(a.model, [...ap, "model"], issues);
        const tp = nonEmptyString(a.maps_to.provider, [...ap, "maps_to", "provider"], issues);
        const tm = nonEmptyString(a.maps_to.model, [...ap, "maps_to", "model"], issues);
        if (!provider || !model || !tp || !tm) return [];
        return [{ provider, model, maps_to: { provider: tp, model: tm } }];
      });
  }
  if (value.discounts !== undefined) {
    const d = checkDecimalMap(value.discounts, [...path, "discounts"], issues, { max: "100" });
    if (d) out.discounts = d;
  }
  if (value.batch !== undefined) {
    const b = checkDecimalMap(value.batch, [...path, "batch"], issues, {});
    if (b) out.batch = b;
  }
  if (value.service_tiers !== undefined) {
    if (!isPlainObject(value.service_tiers))
      issues.push(issue("invalid_type", [...path, "service_tiers"], "must be an object keyed by provider"));
    else {
      const st: Record<string, Record<string, string>> = {};
      for (const [p, tiers] of Object.entries(value.service_tiers)) {
        const t = checkDecimalMap(tiers, [...path, "service_tiers", p], issues, {});
        if (t) st[p] = t;
      }
      out.service_tiers = st;
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
}
