export { CosttrailError, ERROR_CODES, formatIssue, formatPath } from "./errors.js";
export type { ErrorCode, Issue, IssueCode, IssuePath, Result } from "./errors.js";

export { Decimal } from "./money/decimal.js";
export { MAX_COST_DECIMALS, MAX_EVENT_COST_USD } from "./money/event-cost.js";

export {
  APIS,
  ATTRIBUTION_COLUMNS,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  DEFAULT_MIN_TIMESTAMP,
  EVENT_FIELDS,
  EVENT_STATUSES,
  LIMITS,
  formatDuration,
  validateEvent,
  validateEvents,
} from "./event/usage-event.js";
export type { Api, AttributionColumn, BatchValidation, EventCheckOptions, EventStatus, UsageEvent } from "./event/usage-event.js";
export { MAX_COUNT, isPlainObject } from "./event/fields.js";
export { prepareEvent } from "./event/prepare-event.js";
export type { PreparedEvent } from "./event/prepare-event.js";

export { TOKEN_BUCKETS, UNIT_KINDS, totalInputTokens, totalTokens } from "./usage/buckets.js";
export type { NormalizedUsage, TokenBucket, UnitKind, Units, UsageBuckets } from "./usage/buckets.js";
export { isApi, normalizeUsage } from "./usage/normalize-usage.js";
export { accumulateAnthropicStreamUsage } from "./usage/anthropic.js";
export { OTEL_USAGE_ATTRIBUTES } from "./usage/otel.js";
export { StreamReaderBase, encodeSseMessage, isRecord, parseJson, stringOf } from "./usage/call-reader.js";
export type { CallReader, RequestPlan, SseMessage, StreamReader, UsageReading } from "./usage/call-reader.js";
export { openaiChatReader, openaiEmbeddingsReader, openaiResponsesReader } from "./usage/openai-call-readers.js";
export { anthropicMessagesReader } from "./usage/anthropic-call-reader.js";
export { CALL_TAGS, callEventFields, providerErrorType, streamOutcome } from "./usage/call-event.js";
export type { MeasuredCall, StreamEnd } from "./usage/call-event.js";

export { RateCard, DEFAULT_BATCH_MULTIPLIERS, DEFAULT_SERVICE_TIERS, listingEntryAt } from "./pricing/rate-card.js";
export type {
  CostSource,
  PriceInput,
  PriceLine,
  PriceListing,
  PriceListingEntry,
  PriceModifier,
  PriceResult,
  RateCardEntryRef,
} from "./pricing/rate-card.js";
export { validatePricingConfig } from "./pricing/pricing-config.js";
export type { PricingConfig } from "./pricing/pricing-config.js";
export { modelSpecsFromGenaiPrices } from "./pricing/genai-prices.js";
export { applyCorrections, parseCorrections } from "./pricing/corrections.js";
export type { CorrectionRef, PriceCorrection } from "./pricing/corrections.js";
export { checkAgainstLitellm } from "./pricing/price-check.js";
export type { DisagreementKind, PriceCheckOptions, PriceCheckResult, PriceDisagreement } from "./pricing/price-check.js";
export type { GenaiPricesProvider } from "./pricing/genai-prices.js";
export type { ModelPriceSpec, PriceEntrySpec } from "./pricing/model-price.js";
export type { MatchLogic } from "./pricing/model-match.js";
export { BUCKET_RATE_CHAIN, RATE_KEYS, TOKEN_RATE_KEYS, UNIT_RATE_KEYS } from "./pricing/rates.js";
export type { RateKey, RateValue, Rates } from "./pricing/rates.js";
export { nameCandidates, providerId } from "./pricing/model-name.js";

export {
  ADDITIVE_METRICS,
  DERIVED_METRICS,
  DESCRIPTIVE_COLUMNS,
  DIMENSION_COLUMNS,
  DISTRIBUTION_STATS,
  FILTER_OPS,
  GRAINS,
  LATENCY_METRICS,
  MAX_QUERY_LIMIT,
  METRICS,
  MONEY_METRICS,
  OTHER_GROUP,
  PRICINGS,
  PROVIDER_COST_METRICS,
  isDimension,
  validateQuery,
} from "./query/query-spec.js";
export type {
  AdditiveMetric,
  Dimension,
  DimensionColumn,
  DistributionStat,
  FilterOp,
  Pricing,
  Grain,
  Metric,
  QueryFilter,
  QuerySpec,
} from "./query/query-spec.js";

export { isTimeZone, localToInstant, offsetAt, offsetSegments } from "./time/time-zone.js";
export type { OffsetSegment } from "./time/time-zone.js";

export { BUDGET_ACTION_KINDS, BUDGET_PERIODS, isBudgetKey, validateBudgets } from "./budget/budget.js";
export type { Budget, BudgetAction, BudgetActionKind, BudgetKey, BudgetPeriod, UnpricedPolicy } from "./budget/budget.js";
export { ROLLING_BUCKET_MS, ROLLING_MS, budgetBucket, budgetWindow } from "./budget/budget-period.js";
export type { BudgetWindow } from "./budget/budget-period.js";
export { budgetScope } from "./budget/budget-scope.js";
export type { BudgetSubject } from "./budget/budget-scope.js";
export { NANO_SCALE, fallbackNanoUsd, nanoToDecimal, toNanoUsd } from "./budget/budget-money.js";
export {
  budgetState,
  crossedAlerts,
  forecastExhaustion,
  hardCapNano,
  judgeBudget,
  limitNano,
  percentOfLimit,
  thresholdNano,
} from "./budget/budget-decision.js";
export type { BudgetLevel, BudgetState, BudgetVerdict } from "./budget/budget-decision.js";
export { ceilingBreach, validateAgentCeilings } from "./budget/agent-ceilings.js";
export type { AgentCeilings, CeilingBreach, CeilingName, RunTally } from "./budget/agent-ceilings.js";
