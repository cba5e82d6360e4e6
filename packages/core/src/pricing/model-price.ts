import type { CorrectionRef } from "./corrections.js";
import type { MatchLogic } from "./model-match.js";
import type { Rates } from "./rates.js";

/** One dated price list of a model. Without `effective_from` it is in force since ever. */
export interface PriceEntrySpec {
  /** ISO date or time from which this entry prices events (inclusive). */
  readonly effective_from?: string;
  /** A daily UTC window ("00:30:00Z"–"16:30:00Z") such as off-peak pricing. */
  readonly time_of_day?: { readonly start: string; readonly end: string };
  readonly rates: Rates;
  /** The corrections that changed this entry's upstream rates, oldest first. */
  readonly corrections?: readonly CorrectionRef[];
}

/** A model as a rate card knows it: which names it claims, and its prices over time. */
export interface ModelPriceSpec {
  readonly provider: string;
  readonly model: string;
  readonly match?: MatchLogic;
  /** Where the prices come from: `genai-prices@0.1.8`, `config`. */
  readonly source: string;
  readonly prices: readonly PriceEntrySpec[];
}
