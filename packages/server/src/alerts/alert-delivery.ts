import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { AlertDestination } from "../config/alerts-config.js";
import type { Alert, Delivery } from "./alert.js";
import { pagerdutyEvent } from "./destinations/pagerduty.js";
import { slackMessage } from "./destinations/slack.js";
import { signWebhook, webhookBody } from "./destinations/webhook.js";

export interface AlertDeliveryOptions {
  readonly env: () => NodeJS.ProcessEnv;
  /** Told of each delivery's outcome: after the first attempt when it fails and will retry, and at the end. */
  readonly onResult: (alertId: string, delivery: Delivery) => void;
  readonly log: () => FastifyBaseLogger | undefined;
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
}

/** Deliveries waiting or retrying at most: past it the oldest are given up, and counted. */
const MAX_IN_FLIGHT = 1000;

class PermanentFailure extends Error {}

/** `Retry-After` in seconds or as an HTTP date, in ms; null when absent or unreadable. */
function retryAfterMs(value: string | null): number | null {
  if (value === null) return null;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * Sends alerts to their destinations in the background: nothing waits on it, so a destination
 * that is down never holds up ingestion or a budget check. Each delivery is retried with
 * exponential backoff and jitter (honouring Retry-After) on network errors, 429 and 5xx;
 * another 4xx, or a secret missing from the environment, fails it at once.
 */
export class AlertDelivery {
  private inFlight = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /** Deliveries given up because too many were waiting. */
  dropped = 0;

  constructor(private readonly opts: AlertDeliveryOptions) {}

  send(alert: Alert, action: "trigger" | "resolve", destination: AlertDestination): void {
    if (this.closed) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.dropped++;
      this.opts.log()?.warn({ alert: alert.id, destination: destination.name }, "alert delivery dropped: too many waiting");
      return;
    }
    if (destination.type === "log") {
      this.opts
        .log()
        ?.warn(
          { alert: alert.id, rule: alert.rule, severity: alert.severity, scope: alert.scope, amounts: alert.amounts },
          `alert ${action === "trigger" ? "opened" : "resolved"}: ${alert.title}`,
        );
      this.opts.onResult(alert.id, {
        destination: destination.name,
        action,
        state: "delivered",
        attempts: 1,
        last_error: null,
        at: new Date().toISOString(),
      });
      return;
    }
    this.inFlight++;
    void this.attempt(alert, action, destination, 1, randomUUID());
  }

  private request(
    alert: Alert,
    action: "trigger" | "resolve",
    d: AlertDestination,
    deliveryId: string,
  ): { url: string; init: RequestInit } {
    const env = this.opts.env();
    const secret = (name: string | undefined, what: string): string => {
      const v = name === undefined ? undefined : env[name];
      if (!v) throw new PermanentFailure(`${name} is not set in the environment (${what} of destination ${d.name})`);
      return v;
    };
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "costtrail-alerts" };
    if (d.type === "slack") {
      const url = secret(d.url_env, "the webhook URL");
      // The URL is the secret: an invalid one is named by its variable, never quoted.
      if (!/^https?:\/\//.test(url) || !URL.canParse(url)) throw new PermanentFailure(`${d.url_env} does not hold an http(s) URL`);
      return { url, init: { method: "POST", headers, body: JSON.stringify(slackMessage(alert, action)) } };
    }
    if (d.type === "pagerduty") {
      const body = JSON.stringify(pagerdutyEvent(alert, action, secret(d.routing_key_env, "the routing key")));
      return { url: d.url as string, init: { method: "POST", headers, body } };
    }
    const body = JSON.stringify(webhookBody(alert, action));
    headers["x-costtrail-event"] = action === "trigger" ? "alert.opened" : "alert.resolved";
    headers["x-costtrail-delivery"] = deliveryId;
    headers["x-costtrail-signature"] = signWebhook(secret(d.secret_env, "the signing secret"), body, Math.floor(Date.now() / 1000));
    return { url: d.url as string, init: { method: "POST", headers, body } };
  }

  private async attempt(alert: Alert, action: "trigger" | "resolve", d: AlertDestination, n: number, deliveryId: string): Promise<void> {
    const max = this.opts.maxAttempts ?? 8;
    const report = (state: Delivery["state"], error: string | null) =>
      this.opts.onResult(alert.id, { destination: d.name, action, state, attempts: n, last_error: error, at: new Date().toISOString() });
    let wait: number | null = null;
    let target = "";
    try {
      const { url, init } = this.request(alert, action, d, deliveryId);
      target = url;
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
      const text = (await res.text()).slice(0, 300);
      if (res.ok) {
        report("delivered", null);
        return this.done();
      }
      if (res.status !== 429 && res.status < 500) throw new PermanentFailure(`${res.status} ${text}`);
      wait = retryAfterMs(res.headers.get("retry-after"));
      throw new Error(`${res.status} ${text}`);
    } catch (e) {
      // A destination's URL may carry its secret (Slack's does): it never reaches a log or a record.
      const message = target ? (e as Error).message.split(target).join(`<${d.name}'s URL>`) : (e as Error).message;
      if (e instanceof PermanentFailure || n >= max || this.closed) {
        report("failed", message);
        this.opts.log()?.warn({ alert: alert.id, destination: d.name, attempts: n, cause: message }, "alert not delivered");
        return this.done();
      }
      report("pending", message);
      const base = this.opts.baseDelayMs ?? 1000;
      const backoff = Math.min(this.opts.maxDelayMs ?? 300_000, base * 2 ** (n - 1)) * (0.5 + Math.random() / 2);
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          void this.attempt(alert, action, d, n + 1, deliveryId);
        },
        Math.min(this.opts.maxDelayMs ?? 300_000, Math.max(backoff, wait ?? 0)),
      );
      timer.unref();
      this.timers.add(timer);
    }
  }

  private done(): void {
    this.inFlight--;
    if (this.inFlight > 0) return;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w();
  }

  /** Resolves once nothing is waiting or retrying (tests, and a graceful close), or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.waiters.add(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
