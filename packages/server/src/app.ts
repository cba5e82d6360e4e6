import { CosttrailError, ERROR_CODES, type ErrorCode, type RateCard } from "@costtrail/core";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { KeyRing } from "./auth/api-keys.js";
import { keysPlugin } from "./auth/keys-plugin.js";
import { collectorPlugin } from "./collector/collector-plugin.js";
import type { CosttrailConfig } from "./config/load-config.js";
import { healthPlugin } from "./health/health-plugin.js";
import { queryPlugin } from "./query/query-plugin.js";
import type { LedgerStore } from "./store/ledger-store.js";

export interface AppOptions {
  readonly store: LedgerStore;
  readonly rateCard: () => RateCard;
  readonly keys: KeyRing;
  readonly config: () => CosttrailConfig;
  readonly logger?: FastifyServerOptions["logger"];
  readonly isShuttingDown?: () => boolean;
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

/** Builds the HTTP server: each feature is its own plugin with its own routes and hooks. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const config = opts.config();
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: config.server.body_limit_bytes,
    return503OnClosing: true,
  });
  app.decorateRequest("apiKey", null);
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
    if (status >= 500) request.log.error({ err, code: e.code }, e.message);
    if (e.code === "CT_OVERLOADED" || e.code === "CT_SHUTTING_DOWN") reply.header("retry-after", "1");
    const body: Record<string, unknown> = {
      code: e.code,
      message: status >= 500 && e.code === "CT_INTERNAL" ? ERROR_CODES.CT_INTERNAL.message : e.message,
      path: e.path,
    };
    if (e.issues.length > 0) body.issues = e.issues;
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ code: "CT_NOT_FOUND", message: `No route ${request.method} ${request.url.split("?")[0]}`, path: [] });
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
  });
  await app.register(queryPlugin, { store: opts.store, keys: opts.keys });
  await app.register(keysPlugin, { store: opts.store, keys: opts.keys });
  return app;
}
