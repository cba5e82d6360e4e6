import { randomUUID } from "node:crypto";
import {
  type CallReader,
  type RateCard,
  type StreamEnd,
  anthropicMessagesReader,
  isRecord,
  openaiChatReader,
  openaiEmbeddingsReader,
  openaiResponsesReader,
  parseJson,
  providerErrorType,
  streamOutcome,
} from "@costtrail/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { KeyRing } from "../auth/api-keys.js";
import type { CosttrailConfig } from "../config/load-config.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { type Call, CallRecorder, type Caller } from "./call-recorder.js";
import { GatewayError, authenticate } from "./caller-auth.js";
import { type Dialect, anthropicDialect, openaiDialect } from "./dialects.js";
import { type OutputLimit, type PreForwardCheck, estimateCall } from "./pre-forward-check.js";
import { relayStream } from "./stream-relay.js";
import { loadTokenizers } from "./token-estimate.js";

export interface GatewayOptions {
  readonly config: () => CosttrailConfig;
  readonly keys: KeyRing;
  readonly store: LedgerStore;
  readonly rateCard: () => RateCard;
  /** Where provider keys for virtual keys are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Checks run on each request's estimate before anything is sent upstream; in memory, no I/O. */
  readonly checks?: () => readonly PreForwardCheck[];
}

/** Request headers never sent upstream: hop-by-hop, ours, and what fetch sets itself. */
const DROP_REQUEST = new Set([
  "host",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
  "accept-encoding",
  "upgrade",
  "proxy-authorization",
  "te",
  "trailer",
]);
/** Response headers not copied back: fetch has decoded and de-chunked the body. */
const DROP_RESPONSE = new Set(["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]);

export async function gatewayPlugin(app: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const recorder = new CallRecorder(opts.store, opts.rateCard, app.log);
  app.addHook("onClose", () => recorder.flush());
  // Checks need estimates, and estimates the tokenizers: load them before the first request
  // when there are checks already (a reload that adds the first budget loads them then).
  if ((opts.checks?.() ?? []).length > 0) await loadTokenizers();
  const groups: Array<{ prefix: string; dialect: Dialect; routes: Array<[string, CallReader | null]> }> = [
    {
      prefix: "/openai/v1",
      dialect: openaiDialect,
      routes: [
        ["/chat/completions", openaiChatReader],
        ["/responses", openaiResponsesReader],
        ["/embeddings", openaiEmbeddingsReader],
      ],
    },
    {
      prefix: "/anthropic",
      dialect: anthropicDialect,
      routes: [
        ["/v1/messages", anthropicMessagesReader],
        ["/v1/messages/count_tokens", null],
      ],
    },
  ];
  for (const group of groups) {
    await app.register(
      async (scope) => {
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.config().gateway.max_body_bytes }, (_req, body, done) =>
          done(null, body),
        );
        scope.setErrorHandler((err, request, reply) => {
          const e = err as { statusCode?: number; message?: string };
          if (err instanceof GatewayError) return sendError(reply, group.dialect, err.status, err.message, err.param);
          if (e.statusCode === 413)
            return sendError(
              reply,
              group.dialect,
              413,
              `The request body is larger than the gateway's ${opts.config().gateway.max_body_bytes} bytes`,
            );
          if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)
            return sendError(reply, group.dialect, e.statusCode, e.message ?? "Bad request");
          request.log.error({ url: request.url.split("?")[0], cause: String(e.message) }, "gateway request failed");
          return sendError(reply, group.dialect, 500, "The Costtrail gateway failed on this request");
        });
        for (const [path, reader] of group.routes) {
          scope.post(path, (request, reply) => handle(opts, recorder, group.dialect, reader, path, request, reply));
        }
        // Listing models is free and unrecorded, but still authenticated.
        if (group.dialect.provider === "openai") {
          scope.get("/models", (request, reply) => handle(opts, recorder, group.dialect, null, "/models", request, reply));
          scope.get("/models/:model", (request, reply) =>
            handle(opts, recorder, group.dialect, null, `/models/${(request.params as { model: string }).model}`, request, reply),
          );
        }
      },
      { prefix: group.prefix },
    );
  }
}

function sendError(reply: FastifyReply, dialect: Dialect, status: number, message: string, param?: string): FastifyReply {
  return reply
    .code(status)
    .type("application/json")
    .send(dialect.errorBody(status, message, param));
}

function upstreamHeaders(request: FastifyRequest, dialect: Dialect, caller: Caller): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROP_REQUEST.has(name) || name.startsWith("x-costtrail-")) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  if (caller.providerKey !== undefined) dialect.setCredential(headers, caller.providerKey);
  return headers;
}

function copyResponseHeaders(from: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  from.forEach((value, name) => {
    if (!DROP_RESPONSE.has(name)) out[name] = value;
  });
  return out;
}

async function handle(
  opts: GatewayOptions,
  recorder: CallRecorder,
  dialect: Dialect,
  reader: CallReader | null,
  path: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const settings = opts.config().gateway;
  const caller = authenticate(opts, dialect, request);
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  let body: Record<string, unknown> | undefined;
  if (reader) {
    const parsed = parseJson(raw.toString("utf8"));
    if (!isRecord(parsed)) throw new GatewayError(400, "The request body must be a JSON object");
    body = parsed;
  }
  const plan = reader && body ? reader.plan(body) : undefined;
  let sendBody: string | Buffer | undefined = request.method === "GET" ? undefined : (plan?.body ?? raw);
  const retries = Number(request.headers["x-stainless-retry-count"] ?? 0);
  const call: Call | undefined =
    reader && plan
      ? {
          id: `gw_${randomUUID().replaceAll("-", "")}`,
          dialect,
          reader,
          caller,
          requestedModel: plan.requestedModel,
          streamed: plan.streamed,
          attempt: Number.isInteger(retries) && retries >= 0 ? retries + 1 : 1,
          startedAt: Date.now(),
          t0: performance.now(),
        }
      : undefined;

  const checks = opts.checks?.() ?? [];
  let outputLimit: OutputLimit | undefined;
  if (call && body && checks.length > 0) {
    await loadTokenizers();
    const estimate = estimateCall(reader as CallReader, body, opts.rateCard(), dialect.provider, settings.default_max_output_tokens);
    for (const check of checks) {
      const decision = await check({
        eventId: call.id,
        apiKeyId: caller.keyId,
        attempt: call.attempt,
        provider: dialect.provider,
        api: call.reader.api,
        model: call.requestedModel,
        attribution: caller.attribution,
        estimate,
      });
      if (decision.action === "refuse") {
        recorder.record(call, { reading: {}, status: "blocked", errorType: `blocked by ${decision.budget}`, latencyMs: 0 });
        return sendError(reply, dialect, 429, `Refused by Costtrail budget ${JSON.stringify(decision.budget)}: ${decision.message}`);
      }
      if (decision.limit && (!outputLimit || decision.limit.outputTokens < outputLimit.outputTokens)) outputLimit = decision.limit;
      if (decision.action === "rewrite") {
        body = { ...(parseJson(String(sendBody)) as Record<string, unknown>), model: decision.model };
        sendBody = JSON.stringify(body);
      }
    }
  }

  // The route's path below its prefix, under the upstream's base URL, with the client's query.
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
  const url = `${settings.upstreams[dialect.provider]}${path}${query}`;
  const abort = new AbortController();
  const clientGone = () => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.once("close", clientGone);
  const timeout = setTimeout(() => abort.abort(new DOMException("upstream timeout", "TimeoutError")), settings.timeout_ms);
  let upstream: Response;
  try {
    upstream = await fetch(url, {
      method: request.method,
      headers: upstreamHeaders(request, dialect, caller),
      ...(sendBody !== undefined && { body: sendBody }),
      signal: abort.signal,
    });
  } catch (err) {
    clearTimeout(timeout);
    const timedOut = (abort.signal.reason as { name?: string } | undefined)?.name === "TimeoutError";
    if (call) {
      const status = reply.raw.destroyed && !timedOut ? "aborted" : "error";
      recorder.record(call, {
        reading: {},
        status,
        errorType: timedOut ? "upstream_timeout" : status === "aborted" ? "aborted" : "upstream_unreachable",
        latencyMs: performance.now() - call.t0,
      });
    }
    if (timedOut) throw new GatewayError(504, `The ${dialect.provider} upstream did not answer within ${settings.timeout_ms} ms`);
    throw new GatewayError(
      502,
      `The ${dialect.provider} upstream could not be reached: ${(err as Error).cause ? String(((err as Error).cause as Error).message ?? "") : (err as Error).message}`,
    );
  }

  const contentType = upstream.headers.get("content-type") ?? "";
  if (call && upstream.ok && contentType.includes("text/event-stream") && upstream.body) {
    const headers = copyResponseHeaders(upstream.headers);
    reply.hijack();
    reply.raw.writeHead(upstream.status, headers);
    const streamReader = call.reader.streamReader(plan as NonNullable<typeof plan>);
    let ttftMs: number | undefined;
    let end: StreamEnd | "cut";
    const cutoff = outputLimit && {
      maxContentEvents: outputLimit.outputTokens,
      errorEvent: dialect.streamError(
        `Cut off by Costtrail budget ${JSON.stringify(outputLimit.budget)}: the answer reached ${outputLimit.outputTokens} output tokens, all the budget has room for`,
      ),
    };
    try {
      end = await relayStream(
        upstream.body,
        reply.raw,
        streamReader,
        plan?.usageInjected ?? false,
        () => {
          ttftMs = performance.now() - call.t0;
        },
        cutoff,
      );
    } finally {
      clearTimeout(timeout);
    }
    if (end !== "done") abort.abort();
    if (!reply.raw.destroyed) reply.raw.end();
    recorder.record(call, {
      ...(end === "cut"
        ? { ...streamOutcome("aborted", streamReader), errorType: `cut off by ${outputLimit?.budget}`.slice(0, 128) }
        : streamOutcome(end, streamReader)),
      latencyMs: performance.now() - call.t0,
      ...(ttftMs !== undefined && { ttftMs }),
    });
    return reply;
  }

  let bytes: Buffer;
  try {
    bytes = Buffer.from(await upstream.arrayBuffer());
  } catch (err) {
    const timedOut = (abort.signal.reason as { name?: string } | undefined)?.name === "TimeoutError";
    if (call)
      recorder.record(call, {
        reading: {},
        status: "error",
        errorType: timedOut ? "upstream_timeout" : "stream_interrupted",
        latencyMs: performance.now() - call.t0,
      });
    if (timedOut) throw new GatewayError(504, `The ${dialect.provider} upstream did not finish within ${settings.timeout_ms} ms`);
    throw new GatewayError(502, `The ${dialect.provider} upstream broke off its answer: ${(err as Error).message}`);
  } finally {
    clearTimeout(timeout);
  }
  if (call) {
    const parsed = parseJson(bytes.toString("utf8"));
    if (upstream.ok) recorder.record(call, { reading: call.reader.readBody(parsed), status: "ok", latencyMs: performance.now() - call.t0 });
    else
      recorder.record(call, {
        reading: {},
        status: "error",
        errorType: providerErrorType(upstream.status, parsed),
        latencyMs: performance.now() - call.t0,
      });
  }
  return reply.code(upstream.status).headers(copyResponseHeaders(upstream.headers)).send(bytes);
}
