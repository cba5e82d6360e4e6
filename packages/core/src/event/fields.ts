import { type Issue, type IssuePath, issue } from "../errors.js";
import { Decimal } from "../money/decimal.js";
import { statedCostProblem } from "../money/event-cost.js";

/**
 * Field checkers for the event schema. Each spec both checks a value and, through
 * `Infer`, gives the TypeScript type of what it accepts, so the event type and its
 * validator cannot drift apart.
 */
export interface FieldSpec<T> {
  readonly optional: boolean;
  /**
   * `key` names the value under `parent`. The path is put together only when an issue is
   * reported: building it for every field of every event was most of validation's garbage.
   */
  check(value: unknown, parent: IssuePath, key: string | number, issues: Issue[]): T | undefined;
}

export type Infer<S> = S extends FieldSpec<infer T> ? T : never;

type Shape = Record<string, FieldSpec<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K]["optional"] extends true ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]["optional"] extends true ? K : never }[keyof S];
export type InferShape<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

/** The largest token or unit count accepted: anything above is a unit mix-up, not usage. */
export const MAX_COUNT = 1e12;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return `a ${typeof value}`;
}

function spec<T>(check: FieldSpec<T>["check"]): FieldSpec<T> & { optional: false } {
  return { optional: false, check };
}

export function optional<T>(s: FieldSpec<T>): FieldSpec<T> & { optional: true } {
  return { optional: true, check: s.check };
}

/** Half of a UTF-16 surrogate pair: no UTF-8 store can keep it, so it would come back changed. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A \udXXX escape that is not itself escaped (an even run of backslashes before it). */
const ESCAPED_LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

export function string(opts: { max: number; min?: number; pattern?: RegExp; patternHint?: string }) {
  return spec<string>((v, parent, key, issues) => {
    if (typeof v !== "string") {
      issues.push(issue("invalid_type", at(parent, key), `must be a string, got ${describe(v)}`));
      return undefined;
    }
    if (v.length < (opts.min ?? 0)) {
      issues.push(
        issue(
          opts.min === 1 ? "required" : "too_long",
          at(parent, key),
          opts.min === 1 ? "must not be empty" : `must be at least ${opts.min} characters`,
        ),
      );
      return undefined;
    }
    if (v.length > opts.max) {
      issues.push(issue("too_long", at(parent, key), `must be at most ${opts.max} characters, got ${v.length}`));
      return undefined;
    }
    if (LONE_SURROGATE.test(v)) {
      issues.push(issue("invalid_format", at(parent, key), "must be valid Unicode text (it holds half of a surrogate pair)"));
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      issues.push(issue("invalid_format", at(parent, key), `must be ${opts.patternHint ?? `match ${opts.pattern}`}`));
      return undefined;
    }
    return v;
  });
}

export function oneOf<const T extends readonly string[]>(values: T) {
  return spec<T[number]>((v, parent, key, issues) => {
    if (typeof v !== "string" || !values.includes(v)) {
      issues.push(
        issue(
          "invalid_value",
          at(parent, key),
          `must be one of ${values.join(", ")}, got ${typeof v === "string" ? JSON.stringify(v) : describe(v)}`,
        ),
      );
      return undefined;
    }
    return v as T[number];
  });
}

export function boolean() {
  return spec<boolean>((v, parent, key, issues) => {
    if (typeof v !== "boolean") {
      issues.push(issue("invalid_type", at(parent, key), `must be a boolean, got ${describe(v)}`));
      return undefined;
    }
    return v;
  });
}

function checkNumber(v: unknown, parent: IssuePath, key: string | number, issues: Issue[], what: string): number | undefined {
  if (typeof v !== "number") {
    issues.push(issue("invalid_type", at(parent, key), `must be ${what}, got ${describe(v)}`));
    return undefined;
  }
  if (!Number.isFinite(v)) {
    issues.push(issue("not_finite", at(parent, key), `must be ${what}, got ${v}`));
    return undefined;
  }
  if (v < 0) {
    issues.push(issue("negative", at(parent, key), `must be ${what}, got ${v}`));
    return undefined;
  }
  return v;
}

/** A non-negative integer count no larger than `max` (tokens, requests, attempts). */
export function count(max = MAX_COUNT) {
  return spec<number>((v, parent, key, issues) => {
    const n = checkNumber(v, parent, key, issues, "a non-negative integer");
    if (n === undefined) return undefined;
    if (!Number.isInteger(n)) {
      issues.push(issue("not_integer", at(parent, key), `must be a non-negative integer, got ${n}`));
      return undefined;
    }
    if (n > max) {
      issues.push(issue("too_large", at(parent, key), `must be at most ${max}, got ${n}`));
      return undefined;
    }
    return n;
  });
}

/** A non-negative number no larger than `max` (milliseconds, seconds of audio). */
export function measure(max: number) {
  return spec<number>((v, parent, key, issues) => {
    const n = checkNumber(v, parent, key, issues, "a non-negative number");
    if (n === undefined) return undefined;
    if (n > max) {
      issues.push(issue("too_large", at(parent, key), `must be at most ${max}, got ${n}`));
      return undefined;
    }
    return n;
  });
}

/** A non-negative exact decimal written as a string ("0.0042"); numbers are refused so no float sneaks in. */
export function decimalString() {
  return spec<string>((v, parent, key, issues) => {
    if (typeof v !== "string") {
      issues.push(issue("invalid_type", at(parent, key), `must be a decimal string such as "0.0042", got ${describe(v)}`));
      return undefined;
    }
    const d = v.length <= 64 ? Decimal.tryParse(v) : null;
    if (d === null) {
      issues.push(
        issue("invalid_format", at(parent, key), `must be a decimal string such as "0.0042", got ${JSON.stringify(v.slice(0, 64))}`),
      );
      return undefined;
    }
    if (d.isNegative()) {
      issues.push(issue("negative", at(parent, key), `must not be negative, got ${v}`));
      return undefined;
    }
    return d.toString();
  });
}

/** A caller-stated cost in USD: a decimal string no larger than one event may cost, to a picodollar. */
export function costString() {
  const decimal = decimalString();
  return spec<string>((v, parent, key, issues) => {
    const text = decimal.check(v, parent, key, issues);
    if (text === undefined) return undefined;
    const problem = statedCostProblem(text, JSON.stringify((v as string).slice(0, 64)));
    if (problem) {
      issues.push(issue(problem.code, at(parent, key), problem.message));
      return undefined;
    }
    return text;
  });
}

const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Date.parse rolls 2026-02-30 over into March; a calendar check refuses it. */
function isRealDate(v: string): boolean {
  const y = Number(v.slice(0, 4));
  const m = Number(v.slice(5, 7));
  const d = Number(v.slice(8, 10));
  return m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** An ISO-8601 instant with an explicit offset; local times are refused as ambiguous. */
export function isoTime() {
  return spec<string>((v, parent, key, issues) => {
    if (typeof v !== "string" || !ISO_TIME_RE.test(v) || Number.isNaN(Date.parse(v)) || !isRealDate(v)) {
      issues.push(
        issue(
          typeof v === "string" ? "invalid_format" : "invalid_type",
          at(parent, key),
          `must be an ISO-8601 time with a time zone such as "2026-11-20T10:00:00.123Z", got ${typeof v === "string" ? JSON.stringify(v.slice(0, 64)) : describe(v)}`,
        ),
      );
      return undefined;
    }
    return v;
  });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON object kept verbatim (the provider's raw usage), bounded in size. */
export function jsonObject(maxChars: number) {
  return spec<Record<string, unknown>>((v, parent, key, issues) => {
    if (!isPlainObject(v)) {
      issues.push(issue("invalid_type", at(parent, key), `must be an object, got ${describe(v)}`));
      return undefined;
    }
    const text = JSON.stringify(v);
    if (text.length > maxChars) {
      issues.push(issue("too_long", at(parent, key), `must serialize to at most ${maxChars} characters, got ${text.length}`));
      return undefined;
    }
    // JSON.stringify writes half a surrogate pair as a \udXXX escape, which no JSON reader
    // downstream (the ledger's exports among them) accepts.
    if (ESCAPED_LONE_SURROGATE.test(text)) {
      issues.push(
        issue("invalid_format", at(parent, key), "must be valid Unicode text throughout (a string in it holds half of a surrogate pair)"),
      );
      return undefined;
    }
    return v;
  });
}

/** A map with keys from a closed list, each value checked by `value`. */
export function closedMap<const K extends readonly string[], T>(keys: K, value: FieldSpec<T>) {
  return spec<{ [P in K[number]]?: T }>((v, parent, key, issues) => {
    const path = at(parent, key);
    if (!isPlainObject(v)) {
      issues.push(issue("invalid_type", path, `must be an object, got ${describe(v)}`));
      return undefined;
    }
    const out: Record<string, T> = {};
    let bad = false;
    for (const [k, raw] of Object.entries(v)) {
      if (!keys.includes(k)) {
        issues.push(issue("unknown_field", at(path, k), `is not a known field; expected one of ${keys.join(", ")}`));
        bad = true;
        continue;
      }
      if (raw === undefined || raw === null) continue;
      const checked = value.check(raw, path, k, issues);
      if (checked === undefined) bad = true;
      else out[k] = checked;
    }
    return bad ? undefined : (out as { [P in K[number]]?: T });
  });
}

/** A free map of string keys to string values (tags). */
export function stringMap(opts: { maxKeys: number; key: FieldSpec<string>; value: FieldSpec<string> }) {
  return spec<Record<string, string>>((v, parent, key, issues) => {
    const path = at(parent, key);
    if (!isPlainObject(v)) {
      issues.push(issue("invalid_type", path, `must be an object of string values, got ${describe(v)}`));
      return undefined;
    }
    const entries = Object.entries(v);
    if (entries.length > opts.maxKeys) {
      issues.push(issue("too_many", path, `must have at most ${opts.maxKeys} keys, got ${entries.length}`));
      return undefined;
    }
    const out: Record<string, string> = {};
    let bad = false;
    for (const [k, raw] of entries) {
      const checkedKey = opts.key.check(k, path, k, issues);
      const val = opts.value.check(raw, path, k, issues);
      if (checkedKey === undefined || val === undefined) bad = true;
      else out[checkedKey] = val;
    }
    return bad ? undefined : out;
  });
}

/** The path of `key` under `parent`. */
function at(parent: IssuePath, key: string | number): IssuePath {
  return [...parent, key];
}

const shapeEntries = new WeakMap<Shape, ReadonlyArray<readonly [string, FieldSpec<unknown>]>>();

/** A shape's fields, listed once rather than on every event. */
function entriesOf(shape: Shape): ReadonlyArray<readonly [string, FieldSpec<unknown>]> {
  let entries = shapeEntries.get(shape);
  if (!entries) shapeEntries.set(shape, (entries = Object.entries(shape)));
  return entries;
}

/** Checks an object against a shape: reports missing required fields and unknown fields. */
export function checkShape<S extends Shape>(shape: S, value: unknown, path: IssuePath, issues: Issue[]): InferShape<S> | undefined {
  if (!isPlainObject(value)) {
    issues.push(issue("invalid_type", path, `must be an object, got ${describe(value)}`));
    return undefined;
  }
  const before = issues.length;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.hasOwn(value, key) && !Object.hasOwn(shape, key))
      issues.push(issue("unknown_field", at(path, key), "is not a field of the usage event"));
  }
  for (const [key, field] of entriesOf(shape)) {
    const raw = value[key];
    if (raw === undefined || (raw === null && field.optional)) {
      if (!field.optional) issues.push(issue("required", at(path, key), "is required"));
      continue;
    }
    const checked = field.check(raw, path, key, issues);
    if (checked !== undefined) out[key] = checked;
  }
  return issues.length === before ? (out as InferShape<S>) : undefined;
}
