import { waitForUpdate } from "@pydantic/genai-prices";
import { type GenaiPricesProvider, modelSpecsFromGenaiPrices } from "./genai-prices.js";
import type { PricingConfig } from "./pricing-config.js";
import { RateCard } from "./rate-card.js";

/** The version of the price data bundled with this build; printed with every rate card entry id. */
export const GENAI_PRICES_VERSION = "0.1.8";

/**
 * The default rate card: @pydantic/genai-prices' bundled data (no network: the package's
 * remote update is never started), with the account's configuration over it.
 */
export async function loadDefaultRateCard(config: PricingConfig = {}): Promise<RateCard> {
  const providers = (await waitForUpdate()) as unknown as GenaiPricesProvider[] | null;
  const source = `genai-prices@${GENAI_PRICES_VERSION}`;
  const { models, providerFallbacks } = modelSpecsFromGenaiPrices(providers ?? [], source);
  return new RateCard(models, config, { dataSource: `@pydantic/genai-prices@${GENAI_PRICES_VERSION}`, providerFallbacks });
}
