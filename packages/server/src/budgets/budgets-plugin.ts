import { ATTRIBUTION_COLUMNS, type Budget, CosttrailError, type Issue, LIMITS, MAX_COUNT, isPlainObject } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { ApiKeyRecord, KeyRing } from "../auth/api-keys.js";
import { requireScope } from "../auth/authenticate.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { readScopeFor } from "../query/read-scope.js";
import { budgetSeries } from "./budget-series.js";
import type { BudgetCheckRequest, BudgetService } from "./budget-service.js";
import { type OverrideBook, type OverrideState, checkOverrideBody } from "./override-book.js";

export interface BudgetsPluginOptions {
  readonly keys: KeyRing;
  readonly budgets: BudgetService;
  readonly overrides: OverrideBook;
  readonly store: LedgerStore;
}

/** Who did it, as the audit log names them: the key's name and id. */
function actorOf(key: ApiKeyRecord): string {
  return `${key.name} (${key.id})`;
}

/** Columns a check may carry; api_key_id is the key's own. */
const CHECK_COLUMNS = ATTRIBUTION_COLUMNS.filter((c) => c !== "api_key_id");
const CHECK_FIELDS = ["id", "provider", "model", "input_tokens", "max_output_tokens", "attempt", "tags", ...CHECK_COLUMNS];
const ID_RE = /^[\w.:-]{1,128}$/;

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_BODY", issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), { issues });
}

/** A read key limited to projects sees the budgets that only count spend of those projects. */
function visibleTo(key: ApiKeyRecord): (b: Budget) => boolean {
  const projects = key.projects;
  if (projects === null) return () => true;
  return (b) => b.match.project?.every((p) => projects.includes(p)) === true;
}

function checkRequest(body: unknown, key: ApiKeyRecord): BudgetCheckRequest {
  const issues: Issue[] = [];
  if (!isPlainObject(body)) throw invalid([{ code: "invalid_type", path: ["body"], message: "must be a JSON object" }]);
  for (const k of Object.keys(body)) {
    if (!CHECK_FIELDS.includes(k))
      issues.push({ code: "unknown_field", path: [k], message: `is not a known field; expected ${CHECK_FIELDS.join(", ")}` });
  }
  const text = (k: string, max: number, required: boolean): string | undefined => {
    const v = body[k];
    if (v === undefined) {
      if (required) issues.push({ code: "required", path: [k], message: "is required" });
      return undefined;
    }
    if (typeof v !== "string" || v === "" || v.length > max) {
      issues.push({ code: "invalid_value", path: [k], message: `must be a string of 1 to ${max} characters` });
      return undefined;
    }
    return v;
  };
  const count = (k: string): number => {
    const v = body[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_COUNT) {
      issues.push({ code: "invalid_value", path: [k], message: `must be a whole number of tokens from 0 to ${MAX_COUNT}` });
      return 0;
    }
    return v;
  };
  const id = text("id", LIMITS.idChars, true);
  if (id !== undefined && !ID_RE.test(id))
    issues.push({ code: "invalid_format", path: ["id"], message: "must be the usage event's id: letters, digits, '_', '.', ':' or '-'" });
  const provider = text("provider", 64, true);
  const model = text("model", LIMITS.modelChars, true);
  const inputTokens = count("input_tokens");
  const maxOutputTokens = count("max_output_tokens");
  let attempt = 1;
  if (body.attempt !== undefined) {
    if (typeof body.attempt !== "number" || !Number.isInteger(body.attempt) || body.attempt < 1 || body.attempt > 1000)
      issues.push({ code: "invalid_value", path: ["attempt"], message: "must be the attempt's number, 1 for the first, at most 1000" });
    else attempt = body.attempt;
  }
  const columns: Record<string, string | undefined> = {};
  for (const c of CHECK_COLUMNS) columns[c] = text(c, LIMITS.attributionChars, false);
  const tags: Record<string, string> = {};
  if (body.tags !== undefined) {
    if (!isPlainObject(body.tags) || !Object.values(body.tags).every((v) => typeof v === "string"))
      issues.push({ code: "invalid_type", path: ["tags"], message: "must be an object of string values" });
    else Object.assign(tags, body.tags);
  }
  const projects = key.projects;
  if (projects !== null) {
    if (columns.project === undefined && projects.length === 1) columns.project = projects[0];
    if (columns.project === undefined || !projects.includes(columns.project))
      issues.push({ code: "invalid_value", path: ["project"], message: `this key may only spend in ${projects.join(", ")}` });
  }
  if (issues.length > 0) throw invalid(issues);
  return {
    id: id as string,
    provider: provider as string,
    model: model as string,
    subject: { columns: { ...columns, provider, model, api_key_id: key.id }, tags },
    inputTokens,
    maxOutputTokens,
    attempt,
  };
}

/**
 * Budgets over HTTP: their standing for readers, and the check the SDK's guard makes before a
 * call (reserving its estimate), with the release of a reservation whose call was not made.
 */
export async function budgetsPlugin(app: FastifyInstance, opts: BudgetsPluginOptions): Promise<void> {
  const read = requireScope(opts.keys, "read");
  const ingest = requireScope(opts.keys, "ingest");
  const admin = requireScope(opts.keys, "admin");

  app.get("/v1/budgets", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    return { budgets: await opts.budgets.status(visibleTo(key)) };
  });

  app.get("/v1/budgets/:name/series", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    const { name } = request.params as { name: string };
    const { scope } = request.query as { scope?: string };
    const budget = opts.budgets.budget(name);
    if (!budget || !visibleTo(key)(budget))
      throw new CosttrailError("CT_NOT_FOUND", `No budget ${JSON.stringify(name)} that this key may read`, { path: ["params", "name"] });
    if ((budget.each_value_of === null) !== (scope === undefined))
      throw invalid([
        {
          code: budget.each_value_of === null ? "unknown_field" : "required",
          path: ["query", "scope"],
          message:
            budget.each_value_of === null
              ? "this budget has one scope: leave scope out"
              : `this budget has one scope per ${budget.each_value_of}: give scope=<value>`,
        },
      ]);
    const status = (await opts.budgets.status((b) => b.name === name)).find((s) => s.scope === (scope ?? null));
    return budgetSeries(opts.store, readScopeFor(key), budget, scope ?? null, status?.limit_usd ?? budget.limit_usd, Date.now());
  });

  app.post("/v1/budgets/check", { onRequest: ingest }, async (request) => {
    return opts.budgets.check(checkRequest(request.body, request.apiKey as ApiKeyRecord));
  });

  // Runs carry no project in the tally: only keys that read every project see them.
  app.get("/v1/agent-runs/stopped", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    return { runs: key.projects === null ? (opts.budgets.runs?.stoppedRuns() ?? []) : [] };
  });

  app.get("/v1/agent-runs/:id", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    const { id } = request.params as { id: string };
    const standing = key.projects === null ? (opts.budgets.runs?.standing(id) ?? null) : null;
    if (!standing)
      throw new CosttrailError("CT_NOT_FOUND", `No agent run ${JSON.stringify(id)} with ceilings is being tallied`, { path: ["id"] });
    return standing;
  });

  // Overrides: anyone who can read a budget may ask to exceed it; only an admin decides.
  app.post("/v1/budgets/:name/overrides", { onRequest: read }, async (request, reply) => {
    const key = request.apiKey as ApiKeyRecord;
    const { name } = request.params as { name: string };
    const budget = opts.budgets.budget(name);
    if (!budget || !visibleTo(key)(budget))
      throw new CosttrailError("CT_NOT_FOUND", `No budget is named ${JSON.stringify(name)}`, { path: ["name"] });
    const override = await opts.overrides.request(checkOverrideBody(request.body, budget, Date.now()), actorOf(key));
    return reply.code(201).send(override);
  });

  app.get("/v1/budgets/overrides", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    const { state } = request.query as { state?: string };
    const states = ["pending", "approved", "denied", "expired"];
    if (state !== undefined && !states.includes(state))
      throw invalid([{ code: "invalid_value", path: ["query", "state"], message: `must be one of ${states.join(", ")}` }]);
    const visible = visibleTo(key);
    return {
      overrides: opts.overrides.list(state as OverrideState | "expired" | undefined).filter((o) => {
        const b = opts.budgets.budget(o.budget);
        return key.projects === null || (b !== undefined && visible(b));
      }),
    };
  });

  for (const [verb, approve] of [
    ["approve", true],
    ["deny", false],
  ] as const) {
    app.post(`/v1/budgets/overrides/:id/${verb}`, { onRequest: admin }, async (request) => {
      const { id } = request.params as { id: string };
      const body = (request.body ?? {}) as { note?: unknown };
      if (body.note !== undefined && (typeof body.note !== "string" || body.note.length > 1000))
        throw invalid([{ code: "invalid_value", path: ["note"], message: "must be a string of at most 1000 characters" }]);
      return opts.overrides.decide(id, approve, actorOf(request.apiKey as ApiKeyRecord), (body.note as string | undefined) ?? null);
    });
  }

  app.get("/v1/audit", { onRequest: admin }, async (request) => {
    const q = request.query as { limit?: string; subject?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw invalid([{ code: "invalid_value", path: ["query", "limit"], message: "must be an integer from 1 to 1000" }]);
    const records = await opts.store.listRecords("audit", { limit: q.subject === undefined ? limit : 10_000 });
    const entries = records
      .map((r) => ({ at: new Date(r.at_ms).toISOString(), ...r.body }))
      .filter((e) => q.subject === undefined || (e as { subject?: unknown }).subject === q.subject)
      .slice(0, limit);
    return { entries };
  });

  app.delete("/v1/budgets/reservations/:id", { onRequest: ingest }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!ID_RE.test(id)) throw invalid([{ code: "invalid_format", path: ["id"], message: "must be a usage event's id" }]);
    await opts.budgets.release(id);
    return reply.code(204).send();
  });
}
