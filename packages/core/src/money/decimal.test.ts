import { describe, expect, it } from "vitest";
import { Decimal } from "./decimal.js";

describe("Decimal", () => {
  it("parses and prints decimal text exactly", () => {
    expect(Decimal.parse("0.004215").toString()).toBe("0.004215");
    expect(Decimal.parse("12.50").toString()).toBe("12.5");
    expect(Decimal.parse("-0.5").toString()).toBe("-0.5");
    expect(Decimal.parse("2.5e-7").toString()).toBe("0.00000025");
    expect(Decimal.parse("1E3").toString()).toBe("1000");
    expect(Decimal.parse(".5").toString()).toBe("0.5");
  });

  it("rejects text that is not a decimal with a coded error", () => {
    for (const bad of ["", "abc", "1.2.3", "NaN", "Infinity", "0x10", "1e999"]) {
      expect(Decimal.tryParse(bad)).toBeNull();
      expect(() => Decimal.parse(bad)).toThrow(expect.objectContaining({ code: "CT_INVALID_DECIMAL" }));
    }
  });

  it("adds 0.1 and 0.2 to exactly 0.3", () => {
    expect(Decimal.parse("0.1").add(Decimal.parse("0.2")).toString()).toBe("0.3");
  });

  it("recovers published rates from JSON numbers without float noise", () => {
    expect(Decimal.fromPublishedNumber(0.075).toString()).toBe("0.075");
    expect(Decimal.fromPublishedNumber(1.25e-7).toString()).toBe("0.000000125");
    // genai-prices' own float arithmetic prints 0.016050000000000002 for this call.
    const cost = Decimal.fromPublishedNumber(3).mulInt(3350).add(Decimal.fromPublishedNumber(15).mulInt(400)).shift(6);
    expect(cost.toString()).toBe("0.01605");
  });

  it("prices 10^9 tokens at $2.50/M as exactly $2500", () => {
    expect(Decimal.parse("2.50").mulInt(1_000_000_000).shift(6).toString()).toBe("2500");
  });

  it("sums 10^6 tiny costs with zero drift", () => {
    const tiny = Decimal.parse("0.000000125"); // one token at $0.125/M
    let total = Decimal.ZERO;
    for (let i = 0; i < 1_000_000; i++) total = total.add(tiny);
    expect(total.toString()).toBe("0.125");
    let float = 0;
    for (let i = 0; i < 1_000_000; i++) float += 0.000000125;
    expect(float).not.toBe(0.125);
  });

  it("rounds half to even only when asked, for display", () => {
    expect(Decimal.parse("0.125").toFixed(2)).toBe("0.12");
    expect(Decimal.parse("0.135").toFixed(2)).toBe("0.14");
    expect(Decimal.parse("-1.005").toFixed(2)).toBe("-1.00");
    expect(Decimal.parse("3").toFixed(2)).toBe("3.00");
  });

  it("compares values of different scales", () => {
    expect(Decimal.parse("1.50").cmp(Decimal.parse("1.5"))).toBe(0);
    expect(Decimal.parse("0.0001").cmp(Decimal.parse("0.001"))).toBe(-1);
    expect(Decimal.parse("10").cmp(Decimal.parse("9.999"))).toBe(1);
  });
});
