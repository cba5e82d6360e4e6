import { createHmac } from "node:crypto";
import type { Alert } from "../alert.js";

/** A generic webhook's body: the alert as the API lists it, and whether it opened or resolved. */
export function webhookBody(alert: Alert, action: "trigger" | "resolve"): Record<string, unknown> {
  const { deliveries: _deliveries, ...rest } = alert;
  return { event: action === "trigger" ? "alert.opened" : "alert.resolved", alert: rest };
}

/**
 * The `x-costtrail-signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * Signing the time with the body lets a receiver refuse replays of an old delivery.
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}
