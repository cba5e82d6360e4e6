import { join } from "node:path";

/**
 * The configuration `costtrail serve --demo` runs with when given none: budgets in several
 * states over the demo month, a ceiling the demo's runaway agent run passes, and every alert
 * rule, sent to the server's log. Rolling periods, so the states do not depend on the date.
 */
export const DEMO_CONFIG = `# Demo budgets, agent-run ceilings and alerts for \`costtrail serve --demo\`.
# Edit this file: the server reloads it. docs/budgets.md explains every field.
budgets:
  - name: dev-tools-30d
    match: { project: dev-tools }
    period: month
    rolling: true
    limit_usd: "400"
    actions: [{ at_percent: 80, action: alert }, { at_percent: 100, action: block }]
  - name: support-bot-30d
    match: { project: support-bot }
    period: month
    rolling: true
    limit_usd: "500"
    actions: [{ at_percent: 50, action: alert }, { at_percent: 80, action: alert }, { at_percent: 100, action: block }]
  - name: code-review-weekly
    match: { feature: code-review-agent }
    period: week
    rolling: true
    limit_usd: "40"
    actions:
      - { at_percent: 75, action: alert }
      - { at_percent: 90, action: downgrade, model: gpt-4o-mini }
      - { at_percent: 100, action: require_override }
  - name: per-customer-daily
    each_value_of: customer_id
    period: day
    rolling: true
    limit_usd: "1.40"
    actions: [{ at_percent: 80, action: alert }, { at_percent: 100, action: block }]
    unpriced: { input_mtok: "1.00", output_mtok: "2.00" }
agent_runs:
  - agent: code-review-agent
    max_llm_calls: 200
    max_cost_usd: "5.00"
    max_wall_time: 2h
alerts:
  evaluate_every: 1m
  destinations:
    - { name: server-log, type: log }
  rules:
    - { name: budgets, type: budget_threshold, destinations: [server-log] }
    - { name: forecast, type: budget_forecast, destinations: [server-log] }
    - { name: spikes, type: spend_spike, destinations: [server-log], window: 1h, baseline_days: 7, factor: 2, min_usd: "1.00" }
    - { name: prompt-versions, type: cost_per_request_change, destinations: [server-log], factor: 1.2, min_requests: 20 }
    - { name: unpriced, type: unpriced_model, destinations: [server-log] }
    - { name: runaways, type: agent_run_ceiling, destinations: [server-log] }
`;

export const DEMO_CONFIG_FILE = "costtrail.demo.yaml";

/** Where the demo's configuration is kept: in the data directory, where it can be edited. */
export function demoConfigPath(dataDir: string): string {
  return join(dataDir, DEMO_CONFIG_FILE);
}
