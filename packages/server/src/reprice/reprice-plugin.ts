import { CosttrailError, Decimal, type Issue, type RateCard, formatIssue, isPlainObject, validateQuery } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { KeyRing } from "../auth/api-keys.js";
import { requireScope } from "../auth/authenticate.js";
import { readScopeFor } from "../query/read-scope.js";
import type { LedgerStore, PriceVersion } from "../store/ledger-store.js";
import { Repricer } from "./repricer.js";

export interface RepricePluginOptions {
  readonly store: LedgerStore;
  readonly keys: KeyRing;
  readonly rateCard: () => RateCard;
}

const BODY_KEYS = ["from", "to", "filters", "reason", "dry_run"];
const MAX_REASON = 500;

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_QUERY", issues.map(formatIssue).join("; "), { issues });
}

/** A version as the API shows it: instants as ISO text. */
function view(v: PriceVersion): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    version: v.version,
    state: v.state,
    dry_run: v.dry_run,
    created_at: iso(v.created_ms),
    created_by: v.created_by,
    reason: v.reason,
    selection: { from: iso(v.selection.from), to: iso(v.selection.to), filters: v.selection.filters, projects: v.selection.projects },
    rate_card: v.rate_card,
    events_total: v.events_total,
    events_done: v.events_done,
    events_changed: v.events_changed,
    recorded_cost_usd: v.recorded_cost,
    current_cost_usd: v.current_cost,
    difference_usd: v.recorded_cost !== null && v.current_cost !== null ? decimalDifference(v.current_cost, v.recorded_cost) : null,
    unpriced_before: v.unpriced_before,
    unpriced_after: v.unpriced_after,
    finished_at: iso(v.finished_ms),
    error: v.error,
  };
}

function decimalDifference(a: string, b: string): string {
  return Decimal.parse(a).sub(Decimal.parse(b)).normalize().toString();
}

/**
 * Re-pricing over HTTP, for admin keys: `POST /v1/reprice` starts a run over a selection (or
 * a dry run that writes nothing), `GET /v1/reprice` lists every version, and
 * `GET /v1/reprice/{version}` shows one's progress. A key limited to projects reprices only those.
 */
export async function repricePlugin(app: FastifyInstance, opts: RepricePluginOptions): Promise<void> {
  const repricer = new Repricer(opts.store, opts.rateCard, app.log);
  app.addHook("onRequest", requireScope(opts.keys, "admin"));
  app.addHook("onReady", async () => {
    // Resumed in the background: a large interrupted run must not hold up the server's start.
    void repricer.resume().catch((e) => app.log.error({ err: e }, "resuming re-pricing failed"));
  });
  app.addHook("onClose", async () => {
    await repricer.stop();
  });

  app.post("/v1/reprice", async (request, reply) => {
    const body = request.body;
    if (!isPlainObject(body))
      throw invalid([{ code: "invalid_type", path: [], message: "must be a JSON object {from, to, filters, reason, dry_run}" }]);
    const issues: Issue[] = [];
    for (const k of Object.keys(body))
      if (!BODY_KEYS.includes(k))
        issues.push({ code: "unknown_field", path: [k], message: `is not a field; fields: ${BODY_KEYS.join(", ")}` });
    const dryRun = body.dry_run === undefined ? false : body.dry_run;
    if (typeof dryRun !== "boolean") issues.push({ code: "invalid_type", path: ["dry_run"], message: "must be true or false" });
    const reason = body.reason;
    if (reason !== undefined && (typeof reason !== "string" || reason.length > MAX_REASON))
      issues.push({ code: "invalid_value", path: ["reason"], message: `must be text of at most ${MAX_REASON} characters` });
    else if (dryRun !== true && (typeof reason !== "string" || reason.trim() === ""))
      issues.push({
        code: "required",
        path: ["reason"],
        message: "is required: say why these events are priced again (it is kept with the version)",
      });
    if (body.from === undefined)
      issues.push({ code: "required", path: ["from"], message: "is required: the start of the events to price again" });
    const spec = validateQuery({
      metrics: ["requests"],
      ...(body.from !== undefined && { from: body.from }),
      ...(body.to !== undefined && { to: body.to }),
      ...(body.filters !== undefined && { filters: body.filters }),
    });
    if (!spec.ok) issues.push(...spec.issues);
    if (issues.length > 0 || !spec.ok) throw invalid(issues);
    const key = request.apiKey as NonNullable<typeof request.apiKey>;
    const started = await repricer.start({
      selection: { from: spec.value.from, to: spec.value.to, filters: spec.value.filters, projects: readScopeFor(key).projects },
      reason: typeof reason === "string" ? reason.trim() : "",
      createdBy: `${key.name} (${key.id})`,
      dryRun: dryRun === true,
    });
    if (started.version === null) {
      return { version: null, events: 0, message: "no events match the selection; nothing was priced again" };
    }
    return reply.code(started.reused ? 200 : 202).send({ ...view(started.version), reused: started.reused });
  });

  app.get("/v1/reprice", async () => ({ versions: (await opts.store.priceVersions()).map(view) }));

  app.get<{ Params: { version: string } }>("/v1/reprice/:version", async (request) => {
    const n = Number(request.params.version);
    const v = Number.isInteger(n) ? (await opts.store.priceVersions()).find((x) => x.version === n) : undefined;
    if (!v)
      throw new CosttrailError(
        "CT_VERSION_NOT_FOUND",
        `no price version ${JSON.stringify(request.params.version)}; GET /v1/reprice lists them`,
        { path: ["params", "version"] },
      );
    return view(v);
  });
}
