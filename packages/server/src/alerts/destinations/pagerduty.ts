import type { Alert } from "../alert.js";

/**
 * A PagerDuty Events API v2 event. A trigger carries the payload (summary at most 1024
 * characters, source, severity, timestamp, and the details); a resolve only the routing key,
 * the action and the dedup key, which is the alert's id so both reach the same incident.
 */
export function pagerdutyEvent(alert: Alert, action: "trigger" | "resolve", routingKey: string): Record<string, unknown> {
  const base = { routing_key: routingKey, event_action: action, dedup_key: alert.id.slice(0, 255) };
  if (action === "resolve") return base;
  return {
    ...base,
    payload: {
      summary: alert.title.slice(0, 1024),
      source: "costtrail",
      severity: alert.severity,
      timestamp: alert.opened_at,
      component: alert.scope.budget ?? alert.scope.feature ?? alert.scope.agent ?? undefined,
      group: alert.scope.environment ?? undefined,
      class: alert.type,
      custom_details: { rule: alert.rule, scope: alert.scope, amounts: alert.amounts, trace_ids: alert.trace_ids },
    },
    links: [{ href: alert.link, text: "Open in Costtrail" }],
    client: "Costtrail",
    client_url: alert.link,
  };
}
