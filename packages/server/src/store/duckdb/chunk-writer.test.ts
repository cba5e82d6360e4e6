import { describe, expect, it } from "vitest";
import { splitCost } from "./chunk-writer.js";

describe("splitCost", () => {
  it("keeps ordinary costs whole in the 64-bit part", () => {
    expect(splitCost("0.00472")).toEqual({ main: 4_720_000_000n, residual: null });
    expect(splitCost("999999.999999999999")).toEqual({ main: 999_999_999_999_999_999n, residual: null });
  });

  it("moves sub-picodollar digits to the residual, exactly", () => {
    expect(splitCost("0.000000000000345678")).toEqual({ main: 0n, residual: 345_678n });
    expect(splitCost("1.0000000000001")).toEqual({ main: 1_000_000_000_000n, residual: 100_000n });
  });

  it("moves a cost of a million dollars or more to the residual whole", () => {
    expect(splitCost("1000000")).toEqual({ main: 0n, residual: 10n ** 24n });
    expect(splitCost("2500000.5")).toEqual({ main: 0n, residual: 2_500_000_500_000_000_000_000_000n });
  });
});
