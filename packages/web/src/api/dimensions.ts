/**
 * What a query can group and filter by: the event's attribution and descriptive columns (the
 * server's list; a test keeps the two equal), and any tag as `tag.<key>`.
 */
export const ATTRIBUTION = [
  "project",
  "environment",
  "team",
  "cost_center",
  "user_id",
  "customer_id",
  "feature",
  "agent_run_id",
  "trace_id",
  "span_id",
  "parent_span_id",
  "prompt_version",
  "experiment_id",
  "variant",
  "api_key_id",
] as const;

export const DIMENSIONS = [
  ...ATTRIBUTION,
  "provider",
  "model",
  "api",
  "operation",
  "status",
  "price_status",
  "cost_source",
  "service_tier",
  "error_type",
] as const;

const LABELS: Record<string, string> = {
  user_id: "User",
  customer_id: "Customer",
  agent_run_id: "Agent run",
  trace_id: "Trace",
  span_id: "Span",
  parent_span_id: "Parent span",
  prompt_version: "Prompt version",
  experiment_id: "Experiment",
  cost_center: "Cost center",
  price_status: "Price status",
  cost_source: "Cost source",
  service_tier: "Service tier",
  error_type: "Error type",
  api: "API",
  api_key_id: "API key",
};

const FIELD_LABELS: Record<string, string> = {
  cost_usd: "Cost",
  computed_cost_usd: "Computed cost",
  provider_cost_usd: "Provider's cost",
  latency_ms: "Latency",
  ttft_ms: "Time to first token",
};

/** A column, tag or event field as a person would name it: "Prompt version", "Tag: queue", "Cache read tokens". */
export function dimensionLabel(d: string): string {
  if (d.startsWith("tag.")) return `Tag: ${d.slice(4)}`;
  const known = LABELS[d] ?? FIELD_LABELS[d];
  if (known) return known;
  const words = d.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function isDimension(d: string, tags: readonly string[] = []): boolean {
  if ((DIMENSIONS as readonly string[]).includes(d)) return true;
  return /^tag\.[A-Za-z_][\w.-]{0,63}$/.test(d) || tags.includes(d);
}
