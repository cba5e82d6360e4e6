/**
 * Numbers as people read them. Money arrives as exact decimal text and is formatted from the
 * text (Intl formats a decimal string without going through a float), so what the page shows
 * is what the ledger holds, rounded for reading; the exact value is one hover away.
 */
type Formattable = number | bigint | `${number}`;

const usd2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usdSmall = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumSignificantDigits: 3,
  roundingPriority: "morePrecision",
} as Intl.NumberFormatOptions);
const usdCompact = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const usdExact = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 20,
});
const count = new Intl.NumberFormat("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

const asDecimal = (v: string | number | null | undefined): Formattable =>
  v === null || v === undefined || v === "" ? 0 : (String(v) as `${number}`);

/** Dollars with cents; under a dollar, three significant digits (a single call costs fractions of a cent). */
export function usd(v: string | number | null | undefined): string {
  const d = asDecimal(v);
  const magnitude = Math.abs(Number(d));
  return magnitude !== 0 && magnitude < 1 ? usdSmall.format(d as never) : usd2.format(d as never);
}

/** Every digit the ledger holds: for hover titles and exports. */
export function usdExactly(v: string | number | null | undefined): string {
  return usdExact.format(asDecimal(v) as never);
}

/** $12.3K: for chart axes. */
export function usdAxis(v: number): string {
  return Math.abs(v) >= 10_000 ? usdCompact.format(v) : usd(v);
}

export function int(v: string | number | null | undefined): string {
  return count.format(Number(v ?? 0));
}

export function intCompact(v: number): string {
  return compact.format(v);
}

export function percent(v: number, digits = 0): string {
  return `${count.format(Number(v.toFixed(digits)))}%`;
}

/** A change as people say it: "12%" up to tenfold, then "14×" (a percentage of a near-empty baseline reads as noise). */
export function changeText(pct: number): string {
  const a = Math.abs(pct);
  return a >= 900 ? `${count.format(Math.round(a / 100 + 1))}×` : percent(a);
}

/** A change from `before` to `now` as a signed percentage, or null when there is nothing to compare with. */
export function change(now: string, before: string): number | null {
  const b = Number(before);
  if (!(b > 0)) return null;
  return ((Number(now) - b) / b) * 100;
}

const dayFmt = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
const hourFmt = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", hour: "numeric" });
const monthFmt = new Intl.DateTimeFormat("en-US", { month: "short", year: "numeric" });
const whenFmt = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

/** A time bucket's label at its grain, in the reader's zone. */
export function bucketLabel(iso: string, grain: string): string {
  const d = new Date(iso);
  if (grain === "hour") return hourFmt.format(d);
  if (grain === "month") return monthFmt.format(d);
  if (grain === "week") return `Week of ${dayFmt.format(d)}`;
  return dayFmt.format(d);
}

export function when(iso: string): string {
  return whenFmt.format(new Date(iso));
}

/** "3 hours ago", "in 2 days". */
export function relative(iso: string, now = Date.now()): string {
  const diff = Date.parse(iso) - now;
  const rtf = new Intl.RelativeTimeFormat("en-US", { numeric: "auto" });
  const abs = Math.abs(diff);
  if (abs < 3_600_000) return rtf.format(Math.round(diff / 60_000), "minute");
  if (abs < 86_400_000) return rtf.format(Math.round(diff / 3_600_000), "hour");
  return rtf.format(Math.round(diff / 86_400_000), "day");
}

export const localTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
