import { createHash } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { AgentRunTracker } from "../budgets/agent-run-tracker.js";
import type { BudgetService } from "../budgets/budget-service.js";
import type { AlertSettings } from "../config/alerts-config.js";
import type { LedgerStore } from "../store/ledger-store.js";
import type { Alert, AlertCondition, Delivery } from "./alert.js";
import { AlertDelivery } from "./alert-delivery.js";
import { RULE_EVALUATORS } from "./alert-rules.js";

export interface AlertEngineOptions {
  readonly settings: () => AlertSettings;
  readonly store: LedgerStore;
  readonly budgets: BudgetService;
  readonly runs: AgentRunTracker | undefined;
  readonly env: () => NodeJS.ProcessEnv;
  readonly log: () => FastifyBaseLogger | undefined;
  /** The server's own address, for links when no dashboard_url is set. */
  readonly serverUrl: () => string;
  readonly now?: () => number;
  /** Retry timing of deliveries (tests shorten it). */
  readonly delivery?: { readonly baseDelayMs?: number; readonly maxAttempts?: number; readonly maxDelayMs?: number };
}

/**
 * Evaluates the alert rules on a timer. Each evaluation yields the conditions that hold now;
 * a condition not yet open opens an alert (sent to the rule's destinations), one already open
 * is not sent again, and an open alert whose condition is gone is resolved (and its
 * destinations told). Every change of an alert is appended to the store: the history.
 */
export class AlertEngine {
  /** Open alerts by condition key. */
  private readonly open = new Map<string, Alert>();
  /** The newest state of recent alerts by id. */
  private readonly latest = new Map<string, Alert>();
  private readonly delivery: AlertDelivery;
  private timer: NodeJS.Timeout | undefined;
  private evaluating: Promise<void> | null = null;
  private writes: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: AlertEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.delivery = new AlertDelivery({
      env: opts.env,
      log: opts.log,
      onResult: (id, d) => this.recordDelivery(id, d),
      ...opts.delivery,
    });
  }

  /** Loads the alerts left open by the last run, then evaluates every `evaluate_every`. */
  async start(): Promise<void> {
    for (const r of await this.opts.store.listRecords("alert")) {
      const a = r.body as unknown as Alert;
      if (a.state === "open") {
        this.open.set(a.key, a);
        this.latest.set(a.id, a);
      }
    }
    const schedule = () => {
      this.timer = setTimeout(async () => {
        await this.evaluate().catch((e: Error) => this.opts.log()?.error({ cause: e.message }, "alert evaluation failed"));
        schedule();
      }, this.opts.settings().evaluate_every_ms);
      this.timer.unref();
    };
    schedule();
  }

  /** One evaluation of every rule; concurrent calls share the one under way. */
  evaluate(): Promise<void> {
    this.evaluating ??= this.evaluateOnce().finally(() => {
      this.evaluating = null;
    });
    return this.evaluating;
  }

  private async evaluateOnce(): Promise<void> {
    const settings = this.opts.settings();
    const nowMs = this.now();
    const ctx = {
      store: this.opts.store,
      budgets: this.opts.budgets,
      runs: this.opts.runs,
      nowMs,
      dashboard: settings.dashboard_url ?? this.opts.serverUrl(),
    };
    const found = new Map<string, AlertCondition>();
    const evaluated = new Set<string>();
    for (const rule of settings.rules) {
      try {
        for (const c of await RULE_EVALUATORS[rule.type](rule, ctx)) found.set(c.key, c);
        evaluated.add(rule.name);
      } catch (e) {
        // A rule that fails keeps its alerts as they are: a failed query is not "resolved".
        this.opts.log()?.error({ rule: rule.name, cause: (e as Error).message }, "alert rule failed");
      }
    }
    const at = new Date(nowMs).toISOString();
    for (const [key, c] of found) {
      const open = this.open.get(key);
      if (open && (c.rank ?? 0) > (open.rank ?? 0)) {
        // Raised (80% → 100%): the same alert, updated, and its destinations told again.
        const raised: Alert = { ...(this.latest.get(open.id) ?? open), ...c, id: open.id, state: "open", opened_at: open.opened_at };
        this.open.set(key, raised);
        await this.save(raised, nowMs);
        this.dispatch(raised, "trigger");
        continue;
      }
      if (open) continue;
      const alert: Alert = {
        ...c,
        id: `alr_${createHash("sha256").update(`${key}\n${at}`).digest("hex").slice(0, 20)}`,
        state: "open",
        opened_at: at,
        resolved_at: null,
        deliveries: [],
      };
      this.open.set(key, alert);
      await this.save(alert, nowMs);
      this.dispatch(alert, "trigger");
    }
    for (const [key, alert] of this.open) {
      // Alerts of rules removed from the config resolve too; those of a rule that failed wait.
      const ruleGone = !settings.rules.some((r) => r.name === alert.rule);
      if (found.has(key) || (!ruleGone && !evaluated.has(alert.rule))) continue;
      const resolved: Alert = { ...(this.latest.get(alert.id) ?? alert), state: "resolved", resolved_at: at };
      this.open.delete(key);
      await this.save(resolved, nowMs);
      if (!ruleGone) this.dispatch(resolved, "resolve");
    }
  }

  private dispatch(alert: Alert, action: "trigger" | "resolve"): void {
    const settings = this.opts.settings();
    const rule = settings.rules.find((r) => r.name === alert.rule);
    for (const name of rule?.destinations ?? []) {
      const destination = settings.destinations.find((d) => d.name === name);
      if (destination) this.delivery.send(alert, action, destination);
    }
  }

  private save(alert: Alert, atMs: number): Promise<void> {
    this.latest.set(alert.id, alert);
    // The newest few thousand alerts are kept for their deliveries' outcomes; older ones are done.
    if (this.latest.size > 5000) this.latest.delete(this.latest.keys().next().value as string);
    this.writes = this.writes
      .then(() => this.opts.store.appendRecords([{ kind: "alert", id: alert.id, at_ms: atMs, body: { ...alert } }]))
      .catch((e: Error) => this.opts.log()?.error({ alert: alert.id, cause: e.message }, "alert not saved"));
    return this.writes;
  }

  /** A delivery's outcome joins the alert's record: the newest state per destination and action. */
  private recordDelivery(id: string, d: Delivery): void {
    const alert = this.latest.get(id);
    if (!alert) return;
    const deliveries = [...alert.deliveries.filter((x) => !(x.destination === d.destination && x.action === d.action)), d];
    const open = this.open.get(alert.key);
    if (open?.id === id) this.open.set(alert.key, { ...open, deliveries });
    void this.save({ ...alert, deliveries }, this.now());
  }

  /** Alerts newest first: open ones, resolved ones, or both. */
  async list(state?: "open" | "resolved", limit = 100): Promise<Alert[]> {
    await this.writes;
    const records = await this.opts.store.listRecords("alert", { limit: state === undefined ? limit : 10_000 });
    return records
      .map((r) => r.body as unknown as Alert)
      .filter((a) => state === undefined || a.state === state)
      .slice(0, limit);
  }

  /** Waits for deliveries in flight (tests; a graceful close). */
  async settle(timeoutMs = 5000): Promise<void> {
    await this.delivery.idle(timeoutMs);
    await this.writes;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.delivery.close();
  }
}
