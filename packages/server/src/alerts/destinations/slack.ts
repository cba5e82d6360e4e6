import type { Alert } from "../alert.js";

const EMOJI = { critical: ":rotating_light:", error: ":red_circle:", warning: ":warning:", info: ":information_source:" } as const;

/** Mrkdwn's three control characters, escaped as Slack asks. */
function escapeMrkdwn(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A Slack incoming-webhook message: `text` (the notification and fallback) and Block Kit
 * `blocks`: a header, the scope and amounts as section fields, sample traces, and a link.
 * Section fields are at most 10, each at most 2000 characters; a header at most 150.
 */
export function slackMessage(alert: Alert, action: "trigger" | "resolve"): Record<string, unknown> {
  const resolved = action === "resolve";
  const title = `${resolved ? ":white_check_mark: Resolved: " : `${EMOJI[alert.severity]} `}${alert.title}`;
  const fields = [
    ...Object.entries(alert.scope)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `*${escapeMrkdwn(k)}*\n${escapeMrkdwn(String(v))}`),
    ...Object.entries(alert.amounts).map(([k, v]) => `*${escapeMrkdwn(k)}*\n${escapeMrkdwn(String(v))}`),
  ]
    .slice(0, 10)
    .map((text) => ({ type: "mrkdwn", text: text.slice(0, 2000) }));
  const blocks: Array<Record<string, unknown>> = [
    { type: "header", text: { type: "plain_text", text: `${resolved ? "Resolved: " : ""}${alert.title}`.slice(0, 150), emoji: true } },
  ];
  if (fields.length > 0) blocks.push({ type: "section", fields });
  const context = [`Rule *${escapeMrkdwn(alert.rule)}* · ${alert.severity}`];
  if (alert.trace_ids.length > 0) context.push(`Sample traces: ${alert.trace_ids.map((t) => `\`${escapeMrkdwn(t)}\``).join(", ")}`);
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: context.join("\n").slice(0, 3000) }] });
  blocks.push({
    type: "actions",
    elements: [{ type: "button", text: { type: "plain_text", text: "Open in Costtrail" }, url: alert.link.slice(0, 3000) }],
  });
  return { text: escapeMrkdwn(title).slice(0, 3000), blocks };
}
