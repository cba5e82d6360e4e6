import { usd, usdExactly } from "./format.js";

/**
 * An amount rounded for reading, its exact value on hover. No amount (null: calls the rate card
 * has no price for) is shown as a dash, not as $0.00, which would claim they cost nothing.
 */
export function Money({ value, className }: { value: string | number | null | undefined; className?: string }) {
  if (value === null)
    return (
      <span className={`muted ${className ?? ""}`} title="Not priced: the rate card has no price for these calls" data-exact="">
        —
      </span>
    );
  return (
    <span className={className} title={usdExactly(value)} data-exact={value ?? "0"}>
      {usd(value)}
    </span>
  );
}
