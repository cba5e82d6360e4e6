import { CosttrailError, type Issue, type IssuePath, issue } from "../errors.js";
import { isPlainObject } from "../event/fields.js";
import type { MatchLogic } from "./model-match.js";
import type { ModelPriceSpec, PriceEntrySpec } from "./model-price.js";
import { checkDate, checkMatch, checkRates, nonEmptyString, unknownKeys } from "./pricing-config.js";
import { RATE_KEYS, type RateKey, type Rates } from "./rates.js";

/** Where a corrected rate was checked: carried by every entry it changed and by the events those price. */
export interface CorrectionRef {
  readonly id: string;
  readonly source_url: string;
  readonly checked_on: string;
}

/**
 * One correction of the upstream price data, checked by hand against the provider's own page.
 * Its rates replace those of the upstream entries in force between its dates; rates it does
 * not name keep their upstream values, and `remove` drops rates the provider does not charge.
 */
export interface PriceCorrection extends CorrectionRef {
  readonly provider: string;
  /** The upstream model it corrects, or a model upstream lacks (then `match` is required). */
  readonly model: string;
  readonly match?: MatchLogic;
  /** First day (UTC, inclusive) the corrected rates apply; none: since ever. */
  readonly effective_from?: string;
  /** Day (UTC, exclusive) from which upstream applies again; none: still in force. */
  readonly effective_until?: string;
  readonly rates: Rates;
  readonly remove?: readonly RateKey[];
  /** What upstream has wrong, in a sentence. */
  readonly reason: string;
}

const KEYS = [
  "id",
  "provider",
  "model",
  "match",
  "effective_from",
  "effective_until",
  "rates",
  "remove",
  "source_url",
  "checked_on",
  "reason",
];
const ID_RE = /^[a-z0-9][a-z0-9._-]*$/;

function dayMs(text: string): number {
  return Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
}

/**
 * Checks a corrections file. Every problem comes back with the file and its key path
 * (`price-corrections.json: [3].rates.input_mtok: …`); nothing of a bad file is used.
 */
export function parseCorrections(value: unknown, file: string): PriceCorrection[] {
  const issues: Issue[] = [];
  const out: PriceCorrection[] = [];
  if (!Array.isArray(value)) issues.push(issue("invalid_type", [], "must be a list of corrections"));
  else {
    const ids = new Set<string>();
    value.forEach((v, i) => {
      const c = checkCorrection(v, [i], issues);
      if (c === undefined) return;
      if (ids.has(c.id)) issues.push(issue("invalid_value", [i, "id"], `repeats the id ${JSON.stringify(c.id)}; ids are unique`));
      ids.add(c.id);
      out.push(c);
    });
  }
  if (issues.length > 0) throw correctionsError(file, issues);
  return out;
}

function correctionsError(file: string, issues: Issue[]): CosttrailError {
  const where = (p: IssuePath) => p.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
  return new CosttrailError("CT_INVALID_RATE_CARD", issues.map((x) => `${file}: ${where(x.path) || "(top)"}: ${x.message}`).join("\n"), {
    issues,
  });
}

function checkCorrection(v: unknown, path: IssuePath, issues: Issue[]): PriceCorrection | undefined {
  if (!isPlainObject(v)) {
    issues.push(issue("invalid_type", path, "must be an object {id, provider, model, rates, source_url, checked_on, reason}"));
    return undefined;
  }
  const before = issues.length;
  unknownKeys(v, KEYS, path, issues);
  const id = nonEmptyString(v.id, [...path, "id"], issues);
  if (id !== undefined && !ID_RE.test(id))
    issues.push(issue("invalid_format", [...path, "id"], `must be lower-case letters, digits, ".", "_" or "-", got ${JSON.stringify(id)}`));
  const provider = nonEmptyString(v.provider, [...path, "provider"], issues);
  const model = nonEmptyString(v.model, [...path, "model"], issues);
  const match = v.match === undefined ? undefined : checkMatch(v.match, [...path, "match"], issues);
  const from = v.effective_from === undefined ? undefined : checkDate(v.effective_from, [...path, "effective_from"], issues);
  const until = v.effective_until === undefined ? undefined : checkDate(v.effective_until, [...path, "effective_until"], issues);
  if (from !== undefined && until !== undefined && dayMs(until) <= dayMs(from))
    issues.push(issue("invalid_value", [...path, "effective_until"], `must be after effective_from (${from}), got ${until}`));
  const rates = v.rates === undefined ? undefined : checkRates(v.rates, [...path, "rates"], issues);
  let remove: RateKey[] | undefined;
  if (v.remove !== undefined) {
    if (!Array.isArray(v.remove)) issues.push(issue("invalid_type", [...path, "remove"], "must be a list of rate keys"));
    else {
      remove = [];
      v.remove.forEach((k, i) => {
        if ((RATE_KEYS as readonly unknown[]).includes(k)) remove?.push(k as RateKey);
        else issues.push(issue("invalid_value", [...path, "remove", i], `must be a rate key (${RATE_KEYS.join(", ")})`));
      });
    }
  }
  if (v.rates === undefined && remove === undefined)
    issues.push(issue("required", [...path, "rates"], "is required: the corrected rates (or remove: the rates to drop)"));
  const sourceUrl = nonEmptyString(v.source_url, [...path, "source_url"], issues);
  if (sourceUrl !== undefined && !/^https:\/\/[^\s/]+\.[^\s/]+\/\S*$/.test(sourceUrl))
    issues.push(
      issue(
        "invalid_format",
        [...path, "source_url"],
        `must be the https address of the provider's page, got ${JSON.stringify(sourceUrl)}`,
      ),
    );
  const checkedOn = nonEmptyString(v.checked_on, [...path, "checked_on"], issues);
  if (checkedOn !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(checkedOn))
    issues.push(
      issue("invalid_format", [...path, "checked_on"], `must be the date checked, such as "2026-12-01", got ${JSON.stringify(checkedOn)}`),
    );
  const reason = nonEmptyString(v.reason, [...path, "reason"], issues);
  if (issues.length > before) return undefined;
  return {
    id: id as string,
    provider: provider as string,
    model: model as string,
    ...(match && { match }),
    ...(from !== undefined && { effective_from: from }),
    ...(until !== undefined && { effective_until: until }),
    rates: rates ?? {},
    ...(remove && { remove }),
    source_url: sourceUrl as string,
    checked_on: checkedOn as string,
    reason: reason as string,
  };
}

interface Point {
  readonly ms: number;
  readonly text: string | undefined;
}

const EVER: Point = { ms: Number.NEGATIVE_INFINITY, text: undefined };

/** The entry in force at `ms` as the rate card picks it: the last listed whose start has passed. */
function inForce(entries: readonly PriceEntrySpec[], ms: number): PriceEntrySpec | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as PriceEntrySpec;
    if (e.effective_from === undefined || dayMs(e.effective_from) <= ms) return e;
  }
  return undefined;
}

function patched(rates: Rates, c: PriceCorrection): Rates {
  const out: Record<string, unknown> = { ...rates, ...c.rates };
  for (const k of c.remove ?? []) delete out[k];
  return out as Rates;
}

function ref(c: PriceCorrection): CorrectionRef {
  return { id: c.id, source_url: c.source_url, checked_on: c.checked_on };
}

/** One model's dated entries with a correction applied over its window. */
function correctEntries(entries: readonly PriceEntrySpec[], c: PriceCorrection, path: IssuePath, issues: Issue[]): PriceEntrySpec[] {
  if (entries.some((e) => e.time_of_day !== undefined)) {
    if (c.effective_from !== undefined || c.effective_until !== undefined) {
      issues.push(issue("invalid_value", [...path, "effective_from"], "cannot be dated: this model's prices depend on the time of day"));
      return [...entries];
    }
    return entries.map((e) => ({ ...e, rates: patched(e.rates, c), corrections: [...(e.corrections ?? []), ref(c)] }));
  }
  const from: Point = c.effective_from === undefined ? EVER : { ms: dayMs(c.effective_from), text: c.effective_from };
  const until = c.effective_until === undefined ? Number.POSITIVE_INFINITY : dayMs(c.effective_until);
  const points = new Map<number, Point>();
  for (const e of entries) {
    const p = e.effective_from === undefined ? EVER : { ms: dayMs(e.effective_from), text: e.effective_from };
    points.set(p.ms, p);
  }
  points.set(from.ms, from);
  if (c.effective_until !== undefined) points.set(until, { ms: until, text: c.effective_until });
  const out: PriceEntrySpec[] = [];
  for (const p of [...points.values()].sort((a, b) => a.ms - b.ms)) {
    const upstream = inForce(entries, p.ms);
    const inside = p.ms >= from.ms && p.ms < until;
    let next: PriceEntrySpec | undefined;
    if (inside) {
      const base: PriceEntrySpec = upstream ?? { rates: {} };
      next = { ...base, rates: patched(base.rates, c), corrections: [...(base.corrections ?? []), ref(c)] };
    } else if (upstream) next = upstream;
    if (next === undefined) continue;
    const { effective_from: _from, ...rest } = next;
    out.push(p.text === undefined ? rest : { ...rest, effective_from: p.text });
  }
  return out;
}

/**
 * The upstream models with the corrections applied. A correction naming a model upstream
 * lacks adds it (its `match` says which names it claims, ahead of upstream's); one that
 * names nothing is refused.
 */
export function applyCorrections(
  models: readonly ModelPriceSpec[],
  corrections: readonly PriceCorrection[],
  file: string,
): ModelPriceSpec[] {
  const out = [...models];
  // Added models come first: a snapshot the corrections price apart wins over an upstream model that claims its name too.
  const added: ModelPriceSpec[] = [];
  const issues: Issue[] = [];
  corrections.forEach((c, i) => {
    const at = out.findIndex((m) => m.provider === c.provider && m.model === c.model);
    if (at >= 0) {
      const m = out[at] as ModelPriceSpec;
      out[at] = { ...m, ...(c.match && { match: c.match }), prices: correctEntries(m.prices, c, [i], issues) };
      return;
    }
    if (c.match === undefined) {
      issues.push(
        issue("invalid_value", [i, "model"], `names no ${c.provider} model of the price data; give match to add it as a new model`),
      );
      return;
    }
    if (c.effective_until !== undefined) {
      issues.push(issue("invalid_value", [i, "effective_until"], "cannot end the prices of a model the price data lacks"));
      return;
    }
    const entry: PriceEntrySpec = { rates: patched({}, c), corrections: [ref(c)] };
    added.push({
      provider: c.provider,
      model: c.model,
      match: c.match,
      source: "corrections",
      prices: [c.effective_from === undefined ? entry : { ...entry, effective_from: c.effective_from }],
    });
  });
  if (issues.length > 0) throw correctionsError(file, issues);
  return [...added, ...out];
}
