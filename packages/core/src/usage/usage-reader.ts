import { type Issue, type IssuePath, issue } from "../errors.js";
import { isPlainObject, MAX_COUNT } from "../event/fields.js";
import { Decimal } from "../money/decimal.js";
import { statedCostProblem } from "../money/event-cost.js";

type Key = string | number;

/**
 * Reads counts out of a provider's usage object, collecting one issue per bad field.
 * Missing and null fields read as 0 (providers omit zero details), but a present field
 * must be a non-negative integer no larger than 10^12.
 */
export class UsageReader {
  readonly issues: Issue[] = [];
  private readonly root: Record<string, unknown>;
  private readonly base: IssuePath;

  constructor(root: Record<string, unknown>, base: IssuePath) {
    this.root = root;
    this.base = base;
  }

  has(...keys: Key[]): boolean {
    return this.lookup(keys) !== undefined;
  }

  /** A required count: absence is an issue. */
  need(...keys: Key[]): number {
    const v = this.lookup(keys);
    if (v === undefined || v === null) {
      this.issues.push(issue("required", [...this.base, ...keys], "is required"));
      return 0;
    }
    return this.check(v, keys);
  }

  /** An optional count: absent or null is 0. */
  get(...keys: Key[]): number {
    const v = this.lookup(keys);
    if (v === undefined || v === null) return 0;
    return this.check(v, keys);
  }

  /** A sub-array of objects (Gemini's per-modality details). */
  list(...keys: Key[]): Array<Record<string, unknown>> {
    const v = this.lookup(keys);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.issues.push(issue("invalid_type", [...this.base, ...keys], "must be an array"));
      return [];
    }
    return v.filter(isPlainObject);
  }

  /** Reports that `part` cannot exceed `whole`, e.g. cached tokens inside prompt tokens. */
  within(partKeys: Key[], part: number, wholeKeys: Key[], whole: number): boolean {
    if (part <= whole) return true;
    this.issues.push(
      issue("inconsistent", [...this.base, ...partKeys], `is ${part}, more than ${wholeKeys.join(".")} (${whole}) which includes it`),
    );
    return false;
  }

  /**
   * A cost the provider put in the usage object. OpenAI-compatible routers (OpenRouter) send
   * it as a JSON number; its shortest text is the decimal they computed, read exactly.
   */
  money(...keys: Key[]): string | undefined {
    const v = this.lookup(keys);
    if (v === undefined || v === null) return undefined;
    const path = [...this.base, ...keys];
    const plain = (typeof v === "number" && Number.isFinite(v) && v >= 0) || (typeof v === "string" && /^\d+(\.\d+)?$/.test(v));
    if (!plain) {
      this.issues.push(issue("invalid_value", path, "must be a non-negative cost in USD"));
      return undefined;
    }
    const text = String(v);
    const problem = statedCostProblem(text, typeof v === "string" ? JSON.stringify(v.slice(0, 64)) : text);
    if (problem) {
      this.issues.push(issue(problem.code, path, problem.message));
      return undefined;
    }
    return Decimal.parse(text).toString();
  }

  countAt(value: unknown, path: IssuePath): number {
    return this.check(value, path);
  }

  private lookup(keys: Key[]): unknown {
    let cur: unknown = this.root;
    for (const k of keys) {
      if (typeof k === "number" ? !Array.isArray(cur) : !isPlainObject(cur)) return undefined;
      cur = (cur as Record<Key, unknown>)[k];
    }
    return cur;
  }

  private check(v: unknown, keys: IssuePath): number {
    const path = [...this.base, ...keys];
    // OTLP's JSON encoding carries 64-bit ints as strings.
    const n = typeof v === "string" && /^\d{1,13}$/.test(v) ? Number(v) : v;
    if (typeof n !== "number") {
      this.issues.push(issue("invalid_type", path, `must be a non-negative integer, got ${v === null ? "null" : typeof v}`));
      return 0;
    }
    if (!Number.isFinite(n)) {
      this.issues.push(issue("not_finite", path, `must be a non-negative integer, got ${n}`));
      return 0;
    }
    if (n < 0) {
      this.issues.push(issue("negative", path, `must be a non-negative integer, got ${n}`));
      return 0;
    }
    if (!Number.isInteger(n)) {
      this.issues.push(issue("not_integer", path, `must be a non-negative integer, got ${n}`));
      return 0;
    }
    if (n > MAX_COUNT) {
      this.issues.push(issue("too_large", path, `must be at most ${MAX_COUNT}, got ${n}`));
      return 0;
    }
    return n;
  }
}
