import { describe, expect, it } from "vitest";
import { Decimal } from "../money/decimal.js";
import type { ModelPriceSpec } from "./model-price.js";
import { RateCard } from "./rate-card.js";

const MODELS: ModelPriceSpec[] = [
  {
    provider: "openai",
    model: "m",
    source: "test",
    prices: [
      { rates: { input_mtok: "1", output_mtok: "2" } },
      { effective_from: "2026-01-01", rates: { input_mtok: "0.5", output_mtok: "1" } },
    ],
  },
  { provider: "openai", model: "tiny", source: "test", prices: [{ rates: { input_mtok: "0.000000000001" } }] },
];

const usage = (input: number, output = 0) => ({ buckets: { input_tokens: input, output_tokens: output }, units: {} });

describe("RateCard", () => {
  it("prices with the entry in force at the event's time", () => {
    const card = new RateCard(MODELS);
    expect(
      card.price({ provider: "openai", model: "m", timestamp: "2025-12-31T23:59:59Z", usage: usage(1_000_000) }).cost?.toString(),
    ).toBe("1");
    expect(
      card.price({ provider: "openai", model: "m", timestamp: "2026-01-01T00:00:00Z", usage: usage(1_000_000) }).cost?.toString(),
    ).toBe("0.5");
  });

  it("keeps rates with many decimals exact", () => {
    const card = new RateCard(MODELS);
    expect(card.price({ provider: "openai", model: "tiny", timestamp: 0, usage: usage(3) }).cost?.toString()).toBe("0.000000000000000003");
  });

  it("marks a model unpriced when a used bucket has no rate, instead of charging it $0", () => {
    const card = new RateCard(MODELS);
    const r = card.price({ provider: "openai", model: "tiny", timestamp: 0, usage: usage(10, 5) });
    expect(r.status).toBe("unpriced");
    expect(r.status === "unpriced" && r.reason).toBe("no rate for output_tokens in test:openai/tiny");
  });

  it("orders configured entries by effective date whatever their order in the file", () => {
    const card = new RateCard([], {
      models: [
        {
          provider: "acme",
          model: "x",
          prices: [
            { effective_from: "2026-06-01", rates: { input_mtok: "3" } },
            { effective_from: "2026-01-01", rates: { input_mtok: "2" } },
          ],
        },
      ],
    });
    const at = (t: string) => card.price({ provider: "acme", model: "x", timestamp: t, usage: usage(1_000_000) });
    expect(at("2026-03-01T00:00:00Z").cost?.toString()).toBe("2");
    expect(at("2026-07-01T00:00:00Z").cost?.toString()).toBe("3");
    // Before any configured entry, and with no default, the model is unpriced: history is not invented.
    expect(at("2025-07-01T00:00:00Z").status).toBe("unpriced");
  });

  it("throws a coded error listing every bad rate when built from bad data", () => {
    expect(
      () => new RateCard([{ provider: "p", model: "m", source: "t", prices: [{ rates: { input_mtok: "x", bogus_mtok: "1" } as never }] }]),
    ).toThrow(
      expect.objectContaining({
        code: "CT_INVALID_RATE_CARD",
        issues: expect.arrayContaining([expect.objectContaining({ path: ["defaults", 0, "prices", 0, "rates", "input_mtok"] })]),
      }),
    );
  });

  it("notes a batch request for a provider with no known batch discount and prices it at standard rates", () => {
    const card = new RateCard([{ provider: "acme", model: "m", source: "t", prices: [{ rates: { input_mtok: "1" } }] }]);
    const r = card.price({ provider: "acme", model: "m", timestamp: 0, usage: usage(1_000_000), batch: true });
    expect(r.cost?.eq(Decimal.fromInt(1))).toBe(true);
    expect(r.notes).toEqual(["no batch discount known for acme; priced at standard rates"]);
  });
});
