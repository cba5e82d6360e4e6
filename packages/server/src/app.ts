import { randomBytes } from "node:crypto";
import { CosttrailError, ERROR_CODES, type ErrorCode, type RateCard } from "@costtrail/core";
import fastifyCookie from "@fastify/cookie";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions, LogController } from "fastify";
import type { KeyRing } from "./auth/api-keys.js";
import type { AlertEngine } from "./alerts/alert-engine.js";
import { alertsPlugin } from "./alerts/alerts-plugin.js";
import { sessionLookup } from "./auth/authenticate.js";
import { keysPlugin } from "./auth/keys-plugin.js";
import { SessionBook } from "./auth/session-book.js";
import { sessionsPlugin } from "./auth/sessions-plugin.js";
import { budgetGatewayCheck } from "./budgets/budget-gateway-check.js";
import type { BudgetService } from "./budgets/budget-service.js";
import type { OverrideBook } from "./budgets/override-book.js";
import { budgetsPlugin } from "./budgets/budgets-plugin.js";
import { collectorPlugin } from "./collector/collector-plugin.js";
import type { CosttrailConfig } from "./config/load-config.js";
import { gatewayPlugin } from "./gateway/gateway-plugin.js";
import type { PreForwardCheck } from "./gateway/pre-forward-check.js";
import { healthPlugin } from "./health/health-plugin.js";
import { queryPlugin } from "./query/query-plugin.js";
import { repricePlugin } from "./reprice/reprice-plugin.js";
import type { LedgerStore } from "./store/ledger-store.js";
import { webPlugin } from "./web/web-plugin.js";

export interface AppOptions {
  readonly store: LedgerStore;
  readonly rateCard: () => RateCard;
  readonly keys: KeyRing;
  readonly config: () => CosttrailConfig;
  readonly logger?: FastifyServerOptions["logger"];
  readonly isShuttingDown?: () => boolean;
  /** How often one summary line of request counts is logged (default 60 s); per-request lines are debug level. */
  readonly logSummaryMs?: number;
  /** Where the gateway reads provider keys for virtual keys (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Checks the gateway runs on each request before forwarding it, after the budgets'. */
  readonly gatewayChecks?: () => readonly PreForwardCheck[];
  /** Budgets: their API, and their check before the gateway forwards a call. */
  readonly budgets?: BudgetService;
  /** Requests to exceed a budget, and their decisions (with budgets). */
  readonly overrides?: OverrideBook;
  /** Alert history and evaluation on demand. */
  readonly alerts?: AlertEngine;
  /** Dashboard sessions and sign-in links (default: a new, empty book). */
  readonly sessions?: SessionBook;
  /** The dashboard's built files; null or absent serves a page saying it is not built. */
  readonly webRoot?: string | null;
}

/** Fastify's own error codes → ours, so every error body is `{code, message, path}`. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "CT_PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "CT_UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "CT_INVALID_BODY",
  FST_ERR_CTP_EMPTY_JSON_BODY: "CT_INVALID_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "CT_INVALID_JSON",
  FST_ERR_BAD_URL: "CT_NOT_FOUND",
  Z_DATA_ERROR: "CT_INVALID_BODY",
  Z_BUF_ERROR: "CT_INVALID_BODY",
};

function toCosttrailError(err: unknown): CosttrailError {
  const e = err as { code?: string; message?: string; statusCode?: number };
  if (typeof e.code === "string" && e.code in ERROR_CODES) return err as CosttrailError;
  const mapped = typeof e.code === "string" ? FASTIFY_CODES[e.code] : undefined;
  if (mapped)
    return new CosttrailError(
      mapped,
      mapped === "CT_INVALID_BODY" && e.code?.startsWith("Z_") ? `The gzip body could not be decompressed: ${e.message}` : undefined,
      { path: ["body"], cause: err },
    );
  if (e.statusCode === 413) return new CosttrailError("CT_PAYLOAD_TOO_LARGE", undefined, { path: ["body"], cause: err });
  if (e.statusCode === 415)
    return new CosttrailError("CT_UNSUPPORTED_MEDIA_TYPE", undefined, { path: ["headers", "content-type"], cause: err });
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)
    return new CosttrailError("CT_INVALID_BODY", e.message, { cause: err });
  return new CosttrailError("CT_INTERNAL", undefined, { cause: err });
}

/** Every message in an error's cause chain, for the one log line of a server error. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e && parts.length < 6; e = (e as { cause?: unknown }).cause) parts.push(String((e as Error).message ?? e));
  return parts.join(" ← ");
}

/** The methods each route path answers, to tell a wrong method (405) from a wrong path (404). */
class RouteTable {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(url: string, methods: string | string[]): void {
    const pattern = new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]\w*/g, "[^/]+")}/?$`);
    const existing = this.routes.find((r) => r.pattern.source === pattern.source);
    const set = existing?.methods ?? new Set<string>();
    for (const m of Array.isArray(methods) ? methods : [methods]) set.add(m);
    if (!existing) this.routes.push({ pattern, methods: set });
  }

  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}

/** Builds the HTTP server: each feature is its own plugin with its own routes and hooks. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const config = opts.config();
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: config.server.body_limit_bytes,
    return503OnClosing: true,
    // One line per request would bury what matters (the start banner, errors): requests are
    // logged at debug level, and counted in one summary line per interval.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors the router raises before any route runs get the same {code, message, path} body.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const tooLong = (error as { code?: string }).code === "FST_ERR_MAX_PARAM_LENGTH";
      const code = tooLong ? "CT_URL_TOO_LONG" : "CT_NOT_FOUND";
      const message = tooLong ? ERROR_CODES.CT_URL_TOO_LONG.message : "The URL could not be decoded";
      reply.code(ERROR_CODES[code].status).send({ code, message, path: ["url"] });
    },
  });
  const routes = new RouteTable();
  app.addHook("onRoute", (route) => {
    if (route.url) routes.add(route.url, route.method);
  });
  const counts = { requests: 0, client_errors: 0, server_errors: 0 };
  app.addHook("onResponse", async (request, reply) => {
    counts.requests++;
    if (reply.statusCode >= 500) counts.server_errors++;
    else if (reply.statusCode >= 400) counts.client_errors++;
    request.log.debug(
      { method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: reply.elapsedTime },
      "request",
    );
  });
  let summaryFrom = Date.now();
  const logSummary = () => {
    const now = Date.now();
    if (counts.requests > 0) app.log.info({ ...counts, seconds: Math.round((now - summaryFrom) / 1000) }, "requests");
    counts.requests = counts.client_errors = counts.server_errors = 0;
    summaryFrom = now;
  };
  const summary = setInterval(logSummary, opts.logSummaryMs ?? 60_000);
  summary.unref();
  app.addHook("onClose", async () => {
    clearInterval(summary);
    logSummary();
  });
  app.decorateRequest("apiKey", null);
  app.decorateRequest("sessionKey", null);
  const sessions = opts.sessions ?? new SessionBook();
  await app.register(fastifyCookie);
  app.addHook("onRequest", sessionLookup(opts.keys, sessions));
  // While draining, each response tells its client to drop the connection, so keep-alive
  // sockets do not hold the shutdown open until their idle timeout.
  const shuttingDown = opts.isShuttingDown ?? (() => false);
  app.addHook("onSend", async (_request, reply, payload) => {
    if (shuttingDown()) reply.header("connection", "close");
    return payload;
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toCosttrailError(err);
    const status = ERROR_CODES[e.code].status;
    const retryable = e.code === "CT_OVERLOADED" || e.code === "CT_SHUTTING_DOWN" || e.code === "CT_MEMORY_LIMIT";
    if (retryable) reply.header("retry-after", "1");
    if (status >= 500 && !retryable) {
      // The client gets the code and an id; the cause (driver message, statement) goes to one log line with that id.
      const errorId = randomBytes(6).toString("hex");
      request.log.error(
        { error_id: errorId, code: e.code, method: request.method, url: request.url.split("?")[0], cause: causeChain(err) },
        "request failed",
      );
      return reply
        .code(status)
        .send({ code: e.code, message: `${ERROR_CODES[e.code].message} Error id ${errorId}.`, path: [], error_id: errorId });
    }
    const body: Record<string, unknown> = { code: e.code, message: e.message, path: e.path };
    if (e.issues.length > 0) body.issues = e.issues;
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const allowed = routes.allowed(path);
    if (allowed.length > 0) {
      reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send({
          code: "CT_METHOD_NOT_ALLOWED",
          message: `${request.method} ${path} is not allowed; use ${allowed.join(" or ")}`,
          path: ["method"],
        });
      return;
    }
    reply.code(404).send({ code: "CT_NOT_FOUND", message: `No route ${request.method} ${path}`, path: [] });
  });

  await app.register(healthPlugin, {
    store: opts.store,
    maxPendingRows: config.server.max_pending_events,
    isShuttingDown: opts.isShuttingDown ?? (() => false),
  });
  await app.register(collectorPlugin, {
    store: opts.store,
    rateCard: opts.rateCard,
    keys: opts.keys,
    bodyLimit: config.server.body_limit_bytes,
    maxFutureSkewMs: config.server.max_future_skew_ms,
    minTimestampMs: config.server.min_timestamp_ms,
  });
  await app.register(queryPlugin, { store: opts.store, keys: opts.keys, rateCard: opts.rateCard });
  await app.register(keysPlugin, { store: opts.store, keys: opts.keys });
  await app.register(sessionsPlugin, { keys: opts.keys, sessions });
  await app.register(webPlugin, { root: opts.webRoot ?? null });
  await app.register(repricePlugin, { store: opts.store, keys: opts.keys, rateCard: opts.rateCard });
  const budgets = opts.budgets;
  if (budgets && opts.overrides)
    await app.register(budgetsPlugin, { keys: opts.keys, budgets, overrides: opts.overrides, store: opts.store });
  if (opts.alerts) await app.register(alertsPlugin, { keys: opts.keys, alerts: opts.alerts });
  const budgetCheck = budgets ? [budgetGatewayCheck(budgets)] : [];
  await app.register(gatewayPlugin, {
    config: opts.config,
    keys: opts.keys,
    store: opts.store,
    rateCard: opts.rateCard,
    ...(opts.env && { env: opts.env }),
    checks: () => [...(budgets?.active() ? budgetCheck : []), ...(opts.gatewayChecks?.() ?? [])],
  });
  return app;
}
