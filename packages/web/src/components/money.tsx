import { usd, usdExactly } from "./format.js";

/** An amount rounded for reading, its exact value on hover. */
export function Money({ value, className }: { value: string | number | null | undefined; className?: string }) {
  return (
    <span className={className} title={usdExactly(value)} data-exact={value ?? "0"}>
      {usd(value)}
    </span>
  );
}
