import { waitForUpdate } from "@pydantic/genai-prices";
import { type PriceCorrection, applyCorrections, parseCorrections } from "./corrections.js";
import { type GenaiPricesProvider, modelSpecsFromGenaiPrices } from "./genai-prices.js";
import type { ModelPriceSpec } from "./model-price.js";
import corrections from "./price-corrections.json" with { type: "json" };
import type { PricingConfig } from "./pricing-config.js";
import { RateCard } from "./rate-card.js";

/** The version of the price data bundled with this build; printed with every rate card entry id. */
export const GENAI_PRICES_VERSION = "0.1.8";

/** The corrections shipped with this build (`price-corrections.json`), checked once. */
let shipped: PriceCorrection[] | null = null;
export function shippedCorrections(): readonly PriceCorrection[] {
  shipped ??= parseCorrections(corrections, "price-corrections.json");
  return shipped;
}

/** The upstream price data as it is, before corrections: what `costtrail prices check` compares. */
export async function upstreamModels(): Promise<{ models: ModelPriceSpec[]; providerFallbacks: Record<string, readonly string[]> }> {
  const providers = (await waitForUpdate()) as unknown as GenaiPricesProvider[] | null;
  return modelSpecsFromGenaiPrices(providers ?? [], `genai-prices@${GENAI_PRICES_VERSION}`);
}

/**
 * The default rate card: @pydantic/genai-prices' bundled data (no network: the package's
 * remote update is never started) with the shipped corrections applied, and the account's
 * configuration over both.
 */
export async function loadDefaultRateCard(config: PricingConfig = {}): Promise<RateCard> {
  const { models, providerFallbacks } = await upstreamModels();
  return new RateCard(applyCorrections(models, shippedCorrections(), "price-corrections.json"), config, {
    dataSource: `@pydantic/genai-prices@${GENAI_PRICES_VERSION}`,
    providerFallbacks,
  });
}
