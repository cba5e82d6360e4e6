import { Decimal } from "../money/decimal.js";
import type { TokenBucket } from "../usage/buckets.js";
import type { UnpricedPolicy } from "./budget.js";

/**
 * Budget counters keep whole nano-dollars (10^-9 USD) in integers: exact, cheap to add, and
 * within what Redis increments atomically. An event's cost (up to 12 decimals) is rounded up
 * to the next nano-dollar, so a counter can only run ahead of the ledger, by under a
 * millionth of a cent an event.
 */
export const NANO_SCALE = 9;

export function toNanoUsd(d: Decimal): bigint {
  if (d.scale <= NANO_SCALE) return d.rescale(NANO_SCALE).coef;
  const div = 10n ** BigInt(d.scale - NANO_SCALE);
  const q = d.coef / div;
  return d.coef % div > 0n ? q + 1n : q;
}

export function nanoToDecimal(n: bigint): Decimal {
  return Decimal.of(n, NANO_SCALE).normalize();
}

/** Buckets charged at a fallback's output rate; every other bucket is input. */
const OUTPUT_BUCKETS: ReadonlySet<TokenBucket> = new Set([
  "output_tokens",
  "reasoning_tokens",
  "output_audio_tokens",
  "output_image_tokens",
]);

/** What an unpriced call counts as under a fallback policy, in nano-dollars. */
export function fallbackNanoUsd(
  policy: Extract<UnpricedPolicy, { mode: "fallback" }>,
  buckets: Partial<Record<TokenBucket, number>>,
): bigint {
  let input = 0;
  let output = 0;
  for (const [k, n] of Object.entries(buckets)) {
    if (typeof n !== "number") continue;
    if (OUTPUT_BUCKETS.has(k as TokenBucket)) output += n;
    else input += n;
  }
  const cost = Decimal.parse(policy.input_mtok).mulInt(input).add(Decimal.parse(policy.output_mtok).mulInt(output)).shift(6);
  return toNanoUsd(cost);
}
