import { randomUUID } from "node:crypto";
import { CosttrailError, Decimal, type Issue, toNanoUsd } from "@costtrail/core";
import type { LedgerStore, StoredRecord } from "../store/ledger-store.js";

export type OverrideState = "pending" | "approved" | "denied";

/** A request to let a budget scope spend more than its limit, for a while. */
export interface BudgetOverride {
  readonly id: string;
  readonly budget: string;
  /** The `each_value_of` value it is for; null for a budget with one scope. */
  readonly scope: string | null;
  /** Added to the limit while approved and not expired; exact decimal string. */
  readonly amount_usd: string;
  readonly reason: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly expires_at: string;
  readonly state: OverrideState;
  readonly decided_by: string | null;
  readonly decided_at: string | null;
  readonly note: string | null;
}

export interface OverrideRequest {
  readonly budget: string;
  readonly scope: string | null;
  readonly amount_usd: string;
  readonly reason: string;
  readonly expires_at_ms: number;
}

/** The longest an override may last: a standing raise belongs in costtrail.yaml. */
export const MAX_OVERRIDE_MS = 90 * 86_400_000;

/**
 * Overrides and their audit trail. Every step (requested, approved, denied) is appended to the
 * store as the override's new state and as an audit record, so the history survives restarts;
 * approved overrides are kept in memory for the budget checks on every call.
 */
export class OverrideBook {
  private readonly overrides = new Map<string, BudgetOverride>();

  constructor(
    private readonly store: LedgerStore,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    for (const r of await this.store.listRecords("override")) this.overrides.set(r.id, r.body as unknown as BudgetOverride);
  }

  private async save(o: BudgetOverride, action: string, actor: string): Promise<void> {
    const at = this.now();
    const records: StoredRecord[] = [
      { kind: "override", id: o.id, at_ms: at, body: { ...o } },
      {
        kind: "audit",
        id: `aud_${randomUUID().replaceAll("-", "")}`,
        at_ms: at,
        body: { actor, action, subject: o.id, budget: o.budget, scope: o.scope, amount_usd: o.amount_usd, reason: o.reason, note: o.note },
      },
    ];
    await this.store.appendRecords(records);
    this.overrides.set(o.id, o);
  }

  async request(req: OverrideRequest, actor: string): Promise<BudgetOverride> {
    const o: BudgetOverride = {
      id: `ovr_${randomUUID().replaceAll("-", "").slice(0, 20)}`,
      budget: req.budget,
      scope: req.scope,
      amount_usd: req.amount_usd,
      reason: req.reason,
      requested_by: actor,
      requested_at: new Date(this.now()).toISOString(),
      expires_at: new Date(req.expires_at_ms).toISOString(),
      state: "pending",
      decided_by: null,
      decided_at: null,
      note: null,
    };
    await this.save(o, "override.requested", actor);
    return o;
  }

  async decide(id: string, approve: boolean, actor: string, note: string | null): Promise<BudgetOverride> {
    const o = this.overrides.get(id);
    if (!o) throw new CosttrailError("CT_NOT_FOUND", `No override has the id ${JSON.stringify(id)}`, { path: ["id"] });
    if (o.state !== "pending")
      throw new CosttrailError("CT_CONFLICT", `Override ${id} was already ${o.state} by ${o.decided_by}`, { path: ["id"] });
    if (approve && Date.parse(o.expires_at) <= this.now())
      throw new CosttrailError("CT_CONFLICT", `Override ${id} expired at ${o.expires_at}; request a new one`, { path: ["id"] });
    const decided: BudgetOverride = {
      ...o,
      state: approve ? "approved" : "denied",
      decided_by: actor,
      decided_at: new Date(this.now()).toISOString(),
      note,
    };
    await this.save(decided, approve ? "override.approved" : "override.denied", actor);
    return decided;
  }

  /** Nano-dollars approved overrides add to a scope's limit now. */
  activeNano(budget: string, scope: string, nowMs: number): bigint {
    let total = 0n;
    for (const o of this.overrides.values()) {
      if (o.state !== "approved" || o.budget !== budget || (o.scope ?? "") !== scope) continue;
      if (Date.parse(o.expires_at) > nowMs) total += toNanoUsd(Decimal.parse(o.amount_usd));
    }
    return total;
  }

  /** Overrides newest first, with `expired` shown for approved or pending ones past their time. */
  list(state?: OverrideState | "expired"): Array<BudgetOverride & { readonly expired: boolean }> {
    const nowMs = this.now();
    return [...this.overrides.values()]
      .map((o) => ({ ...o, expired: Date.parse(o.expires_at) <= nowMs }))
      .filter((o) => state === undefined || (state === "expired" ? o.expired : o.state === state && !(o.expired && state === "pending")))
      .sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }
}

/** Checks an override request's body; every problem named with its field. */
export function checkOverrideBody(
  body: unknown,
  budget: { readonly name: string; readonly each_value_of: string | null },
  nowMs: number,
): OverrideRequest {
  const issues: Issue[] = [];
  const b = (typeof body === "object" && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!["scope", "amount_usd", "reason", "expires_at", "expires_in"].includes(k))
      issues.push({
        code: "unknown_field",
        path: [k],
        message: "is not a known field; expected scope, amount_usd, reason, expires_at or expires_in",
      });
  }
  let scope: string | null = null;
  if (budget.each_value_of !== null) {
    if (typeof b.scope !== "string" || b.scope === "")
      issues.push({ code: "required", path: ["scope"], message: `is required: the ${budget.each_value_of} the override is for` });
    else scope = b.scope;
  } else if (b.scope !== undefined) {
    issues.push({ code: "unknown_field", path: ["scope"], message: `budget ${budget.name} has one scope; leave scope out` });
  }
  const amount = typeof b.amount_usd === "string" ? Decimal.tryParse(b.amount_usd) : null;
  if (amount === null || amount.isNegative() || amount.isZero() || amount.scale > 9)
    issues.push({
      code: "invalid_value",
      path: ["amount_usd"],
      message: 'must be a positive decimal string with at most 9 decimals, such as "25.00"',
    });
  if (typeof b.reason !== "string" || b.reason.trim() === "" || b.reason.length > 1000)
    issues.push({ code: "required", path: ["reason"], message: "must say why, in 1 to 1000 characters" });
  let expires = Number.NaN;
  if (b.expires_at !== undefined) expires = typeof b.expires_at === "string" ? Date.parse(b.expires_at) : Number.NaN;
  else if (typeof b.expires_in === "string") {
    const m = /^(\d{1,4})(m|h|d)$/.exec(b.expires_in);
    if (m) expires = nowMs + Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
  }
  const field = b.expires_at !== undefined ? "expires_at" : "expires_in";
  if (!Number.isFinite(expires) || expires <= nowMs || expires > nowMs + MAX_OVERRIDE_MS)
    issues.push({
      code: "invalid_value",
      path: [field],
      message: "must be a time in the next 90 days (expires_at, ISO 8601) or a duration such as 24h or 7d (expires_in)",
    });
  if (issues.length > 0)
    throw new CosttrailError("CT_INVALID_BODY", issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), { issues });
  return {
    budget: budget.name,
    scope,
    amount_usd: (amount as Decimal).toString(),
    reason: (b.reason as string).trim(),
    expires_at_ms: expires,
  };
}
