import { CosttrailError } from "../errors.js";

const DECIMAL_RE = /^([+-])?(\d+)?(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const MAX_SCALE = 60;
const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= MAX_SCALE; i++, p *= 10n) POW10.push(p);

function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/**
 * An exact decimal: `coef × 10^-scale`. Money never passes through a binary float:
 * addition aligns scales, multiplication adds them, and division happens only by
 * powers of ten (per million tokens, per thousand requests), which is exact.
 */
export class Decimal {
  static readonly ZERO = new Decimal(0n, 0);

  readonly coef: bigint;
  readonly scale: number;

  private constructor(coef: bigint, scale: number) {
    this.coef = coef;
    this.scale = scale;
  }

  static of(coef: bigint, scale = 0): Decimal {
    if (!Number.isInteger(scale) || scale < 0) throw new RangeError(`scale must be a non-negative integer, got ${scale}`);
    return new Decimal(coef, scale);
  }

  static fromInt(n: number | bigint): Decimal {
    if (typeof n === "number" && !Number.isSafeInteger(n)) {
      throw new CosttrailError("CT_INVALID_DECIMAL", `${n} is not a safe integer`);
    }
    return new Decimal(BigInt(n), 0);
  }

  /** Parses a decimal string such as "0.004215", "-3", "2.5e-7"; returns null when it is not one. */
  static tryParse(text: string): Decimal | null {
    const m = DECIMAL_RE.exec(text.trim());
    if (!m || (m[2] === undefined && m[3] === undefined)) return null;
    const [, sign, intPart = "", fracPart = "", expPart] = m;
    let scale = fracPart.length - (expPart === undefined ? 0 : Number(expPart));
    let coef = BigInt((intPart + fracPart).replace(/^0+(?=\d)/, "") || "0");
    if (scale < 0) {
      if (-scale > MAX_SCALE) return null;
      coef *= pow10(-scale);
      scale = 0;
    }
    if (scale > MAX_SCALE) return null;
    return new Decimal(sign === "-" ? -coef : coef, scale).normalize();
  }

  static parse(text: string): Decimal {
    const d = Decimal.tryParse(text);
    if (d === null) throw new CosttrailError("CT_INVALID_DECIMAL", `${JSON.stringify(text)} is not a decimal number`);
    return d;
  }

  /**
   * Reads a rate published as a JSON number. The shortest round-trip text of a double
   * is the decimal the publisher wrote (2.5, 0.075, 1.25e-7), so this recovers it exactly.
   */
  static fromPublishedNumber(n: number): Decimal {
    if (!Number.isFinite(n)) throw new CosttrailError("CT_INVALID_DECIMAL", `${n} is not a finite number`);
    return Decimal.parse(String(n));
  }

  isZero(): boolean {
    return this.coef === 0n;
  }

  isNegative(): boolean {
    return this.coef < 0n;
  }

  /** Same value at a larger scale. */
  rescale(scale: number): Decimal {
    if (scale === this.scale) return this;
    if (scale < this.scale) throw new RangeError("rescale would lose digits");
    return new Decimal(this.coef * pow10(scale - this.scale), scale);
  }

  add(other: Decimal): Decimal {
    if (this.scale === other.scale) return new Decimal(this.coef + other.coef, this.scale);
    if (this.scale > other.scale) return new Decimal(this.coef + other.coef * pow10(this.scale - other.scale), this.scale);
    return new Decimal(this.coef * pow10(other.scale - this.scale) + other.coef, other.scale);
  }

  sub(other: Decimal): Decimal {
    return this.add(other.neg());
  }

  neg(): Decimal {
    return new Decimal(-this.coef, this.scale);
  }

  mul(other: Decimal): Decimal {
    return new Decimal(this.coef * other.coef, this.scale + other.scale);
  }

  /** Multiplies by a whole count (tokens, requests). */
  mulInt(n: number | bigint): Decimal {
    return new Decimal(this.coef * BigInt(n), this.scale);
  }

  /** Divides by 10^k exactly. */
  shift(k: number): Decimal {
    return new Decimal(this.coef, this.scale + k);
  }

  cmp(other: Decimal): -1 | 0 | 1 {
    const s = Math.max(this.scale, other.scale);
    const a = this.rescale(s).coef;
    const b = other.rescale(s).coef;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  eq(other: Decimal): boolean {
    return this.cmp(other) === 0;
  }

  /** Drops trailing zero digits after the point. */
  normalize(): Decimal {
    let { coef, scale } = this;
    if (coef === 0n) return scale === 0 ? this : Decimal.ZERO;
    while (scale > 0 && coef % 10n === 0n) {
      coef /= 10n;
      scale--;
    }
    return scale === this.scale ? this : new Decimal(coef, scale);
  }

  /** Rounds half-to-even to `dp` digits after the point (for display and invoices, never for storage). */
  round(dp: number): Decimal {
    if (dp >= this.scale) return this;
    const div = pow10(this.scale - dp);
    let q = this.coef / div;
    const r = this.coef % div;
    const twice = (r < 0n ? -r : r) * 2n;
    if (twice > div || (twice === div && q % 2n !== 0n)) q += this.coef < 0n ? -1n : 1n;
    return new Decimal(q, dp);
  }

  /** Exact decimal text with no trailing zeros: "0.004215", "12", "-0.5". */
  toString(): string {
    const neg = this.coef < 0n;
    const digits = (neg ? -this.coef : this.coef).toString();
    if (this.scale === 0) return neg ? `-${digits}` : digits;
    const padded = digits.padStart(this.scale + 1, "0");
    const cut = padded.length - this.scale;
    let end = padded.length;
    while (end > cut && padded.charCodeAt(end - 1) === 48) end--;
    const text = end === cut ? padded.slice(0, cut) : `${padded.slice(0, cut)}.${padded.slice(cut, end)}`;
    return neg && text !== "0" ? `-${text}` : text;
  }

  /** Fixed number of digits after the point, rounded half-to-even. */
  toFixed(dp: number): string {
    const r = this.round(dp).rescale(dp);
    const neg = r.coef < 0n;
    const digits = (neg ? -r.coef : r.coef).toString().padStart(dp + 1, "0");
    if (dp === 0) return `${neg ? "-" : ""}${digits}`;
    const cut = digits.length - dp;
    return `${neg ? "-" : ""}${digits.slice(0, cut)}.${digits.slice(cut)}`;
  }

  toJSON(): string {
    return this.toString();
  }

  static sum(values: Iterable<Decimal>): Decimal {
    let total = Decimal.ZERO;
    for (const v of values) total = total.add(v);
    return total;
  }
}
