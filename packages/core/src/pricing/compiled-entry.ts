import { CosttrailError, type Issue, issue } from "../errors.js";
import { Decimal } from "../money/decimal.js";
import { TOKEN_BUCKETS, UNIT_KINDS } from "../usage/buckets.js";
import type { CorrectionRef } from "./corrections.js";
import type { ModelPriceSpec, PriceEntrySpec } from "./model-price.js";
import { BUCKET_RATE_CHAIN, RATE_KEYS, type RateKey, type RateValue, type Rates, UNIT_RATE } from "./rates.js";

/** A rate ready for arithmetic: coefficients per single token or unit at the entry's common scale. */
export interface CompiledRate {
  readonly key: RateKey;
  readonly published: RateValue;
  readonly base: bigint;
  readonly baseText: string;
  /** Ascending by start; the highest tier whose start total input exceeds applies to the whole bucket. */
  readonly tiers: ReadonlyArray<{ readonly start: number; readonly coef: bigint; readonly text: string }>;
  readonly per: number;
}

/** A price entry compiled once so that pricing an event touches no strings and scans nothing. */
export interface CompiledEntry {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly source: string;
  readonly effectiveFrom: string | null;
  readonly effectiveFromMs: number;
  readonly timeOfDay: readonly [number, number] | null;
  /** The time-of-day window as published ("00:30:00Z"–"16:30:00Z"). */
  readonly window: { readonly start: string; readonly end: string } | null;
  readonly rates: Rates;
  /** Hand-checked corrections that changed the upstream rates of this entry. */
  readonly corrections: readonly CorrectionRef[];
  readonly scale: number;
  /** Indexed like TOKEN_BUCKETS. */
  readonly bucketRates: ReadonlyArray<CompiledRate | null>;
  /** Indexed like UNIT_KINDS. */
  readonly unitRates: ReadonlyArray<CompiledRate | null>;
}

const MAX_RATE_DECIMALS = 24;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2}))?Z$/;

function parseRateText(text: string, path: ReadonlyArray<string | number>, issues: Issue[]): Decimal | null {
  const d = Decimal.tryParse(text);
  if (d === null) issues.push(issue("invalid_format", path, `must be a decimal string such as "2.50", got ${JSON.stringify(text)}`));
  else if (d.isNegative()) issues.push(issue("negative", path, `must not be negative, got ${text}`));
  else if (d.scale > MAX_RATE_DECIMALS) issues.push(issue("invalid_value", path, `must have at most ${MAX_RATE_DECIMALS} decimal places`));
  else return d;
  return null;
}

function perOf(key: RateKey): number {
  if (key.endsWith("_mtok")) return 1_000_000;
  if (key.endsWith("_kcount")) return 1000;
  return 1;
}

function secondsOfDay(text: string, path: ReadonlyArray<string | number>, issues: Issue[]): number {
  const m = TIME_RE.exec(text);
  const [h, min, s] = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [99, 0, 0];
  if (h > 23 || min > 59 || s > 59) {
    issues.push(issue("invalid_format", path, `must be a UTC time of day such as "16:30:00Z", got ${JSON.stringify(text)}`));
    return 0;
  }
  return h * 3600 + min * 60 + s;
}

/** Compiles one dated entry of a model; problems are returned with their paths, never thrown. */
export function compileEntry(
  model: ModelPriceSpec,
  entry: PriceEntrySpec,
  path: ReadonlyArray<string | number>,
  issues: Issue[],
): CompiledEntry | null {
  const before = issues.length;
  const parsed = new Map<RateKey, { base: Decimal; baseText: string; tiers: Array<{ start: number; d: Decimal; text: string }> }>();
  for (const [key, value] of Object.entries(entry.rates)) {
    const rp = [...path, "rates", key];
    if (!(RATE_KEYS as readonly string[]).includes(key)) {
      issues.push(issue("unknown_field", rp, `is not a known rate; expected one of ${RATE_KEYS.join(", ")}`));
      continue;
    }
    if (value === undefined) continue;
    if (typeof value === "string") {
      const d = parseRateText(value, rp, issues);
      if (d) parsed.set(key as RateKey, { base: d, baseText: d.toString(), tiers: [] });
      continue;
    }
    const base = parseRateText(value.base, [...rp, "base"], issues);
    const tiers: Array<{ start: number; d: Decimal; text: string }> = [];
    value.tiers.forEach((t, i) => {
      if (!Number.isSafeInteger(t.start) || t.start < 0) {
        issues.push(issue("invalid_value", [...rp, "tiers", i, "start"], "must be a non-negative integer token count"));
        return;
      }
      const d = parseRateText(t.price, [...rp, "tiers", i, "price"], issues);
      if (d) tiers.push({ start: t.start, d, text: d.toString() });
    });
    tiers.sort((a, b) => a.start - b.start);
    if (base) parsed.set(key as RateKey, { base, baseText: base.toString(), tiers });
  }
  let effectiveFromMs = Number.NEGATIVE_INFINITY;
  if (entry.effective_from !== undefined) {
    effectiveFromMs = Date.parse(entry.effective_from.length === 10 ? `${entry.effective_from}T00:00:00Z` : entry.effective_from);
    if (Number.isNaN(effectiveFromMs)) {
      issues.push(
        issue(
          "invalid_format",
          [...path, "effective_from"],
          `must be an ISO date such as "2026-03-13", got ${JSON.stringify(entry.effective_from)}`,
        ),
      );
    }
  }
  let timeOfDay: readonly [number, number] | null = null;
  if (entry.time_of_day) {
    timeOfDay = [
      secondsOfDay(entry.time_of_day.start, [...path, "time_of_day", "start"], issues),
      secondsOfDay(entry.time_of_day.end, [...path, "time_of_day", "end"], issues),
    ];
  }
  if (issues.length > before) return null;

  // One common scale for every rate of the entry, so an event's lines add as plain bigints.
  let scale = 0;
  for (const [key, p] of parsed) {
    const shift = Math.log10(perOf(key));
    for (const d of [p.base, ...p.tiers.map((t) => t.d)]) scale = Math.max(scale, d.scale + shift);
  }
  const compiled = new Map<RateKey, CompiledRate>();
  for (const [key, p] of parsed) {
    const per = perOf(key);
    const shift = Math.log10(per);
    const coefAt = (d: Decimal) => d.shift(shift).rescale(scale).coef;
    compiled.set(key, {
      key,
      published: entry.rates[key] as RateValue,
      base: coefAt(p.base),
      baseText: p.baseText,
      tiers: p.tiers.map((t) => ({ start: t.start, coef: coefAt(t.d), text: t.text })),
      per,
    });
  }
  const bucketRates = TOKEN_BUCKETS.map((b) => {
    for (const key of BUCKET_RATE_CHAIN[b]) {
      const r = compiled.get(key);
      if (r) return r;
    }
    return null;
  });
  const unitRates = UNIT_KINDS.map((u) => compiled.get(UNIT_RATE[u].key) ?? null);
  const effectiveFrom = entry.effective_from ?? null;
  const window = entry.time_of_day ? `[${entry.time_of_day.start}-${entry.time_of_day.end}]` : "";
  const corrections = entry.corrections ?? [];
  const fixed = corrections.length > 0 ? `+fix:${corrections.map((c) => c.id).join(",")}` : "";
  return {
    id: `${model.source}:${model.provider}/${model.model}${effectiveFrom ? `@${effectiveFrom}` : ""}${window}${fixed}`,
    provider: model.provider,
    model: model.model,
    source: model.source,
    effectiveFrom,
    effectiveFromMs,
    timeOfDay,
    window: entry.time_of_day ?? null,
    rates: entry.rates,
    corrections,
    scale,
    bucketRates,
    unitRates,
  };
}

/**
 * Picks the entry in force at `ms`, scanning newest first as the price data orders them:
 * an entry with a start date applies from that date on, a time-of-day window applies
 * inside it, an unconstrained entry always applies.
 */
export function entryInForce(entries: readonly CompiledEntry[], ms: number): CompiledEntry | null {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as CompiledEntry;
    if (ms < e.effectiveFromMs) continue;
    if (e.timeOfDay !== null) {
      const d = new Date(ms);
      const sec = d.getUTCHours() * 3600 + d.getUTCMinutes() * 60 + d.getUTCSeconds();
      const [start, end] = e.timeOfDay;
      const inside = end < start ? sec >= start || sec < end : sec >= start && sec < end;
      if (!inside) continue;
    }
    return e;
  }
  return null;
}

export function assertNoIssues(issues: Issue[]): void {
  if (issues.length > 0) throw new CosttrailError("CT_INVALID_RATE_CARD", issues[0]?.message, { issues });
}
