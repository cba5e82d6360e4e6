import { CosttrailError } from "@costtrail/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Scope } from "../config/load-config.js";
import { type ApiKeyRecord, type KeyRing, hasScope, isRevoked } from "./api-keys.js";
import type { SessionBook } from "./session-book.js";

declare module "fastify" {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
    /** The key a dashboard session stands for, when the request came with a live session cookie. */
    sessionKey: ApiKeyRecord | null;
  }
}

export const SESSION_COOKIE = "costtrail_session";
/**
 * Sent by the dashboard on every request that changes something. A page on another site can
 * make the browser send the session cookie with a form post, but not with a custom header
 * (that needs a CORS preflight, which this server never approves); SameSite=Strict already
 * keeps the cookie off such posts in current browsers, and this covers the ones that do not.
 */
export const CSRF_HEADER = "x-costtrail-csrf";

/** An onRequest hook for the whole app: finds the key behind a session cookie, unless the request carries a key itself. */
export function sessionLookup(keys: KeyRing, sessions: SessionBook) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.headers.authorization !== undefined) return;
    const token = request.cookies?.[SESSION_COOKIE];
    if (!token) return;
    const session = sessions.find(token);
    const key = session ? keys.get(session.keyId) : null;
    if (key && !isRevoked(key, keys.now())) request.sessionKey = key;
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A preHandler-style hook: a valid Bearer key (or a dashboard session) with the scope, or 401/403. A known key's use is recorded, also when it lacks the scope. */
export function requireScope(keys: KeyRing, scope: Scope) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    let key: ApiKeyRecord | null;
    if (header === undefined && request.sessionKey) {
      key = request.sessionKey;
      if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] === undefined)
        throw new CosttrailError("CT_FORBIDDEN", `A request made with a dashboard session must send the ${CSRF_HEADER} header`, {
          path: ["headers", CSRF_HEADER],
        });
    } else {
      if (header === undefined && request.cookies?.[SESSION_COOKIE])
        throw new CosttrailError(
          "CT_UNAUTHORIZED",
          "The dashboard session has ended (signed out, expired, or its key revoked); sign in again",
          {
            path: ["cookies", SESSION_COOKIE],
          },
        );
      const match = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match)
        throw new CosttrailError("CT_UNAUTHORIZED", "Send Authorization: Bearer <api key>", { path: ["headers", "authorization"] });
      key = keys.find(match[1] as string);
      if (!key)
        throw new CosttrailError("CT_UNAUTHORIZED", "The API key is not known, or was revoked", { path: ["headers", "authorization"] });
    }
    keys.recordUse(key.id);
    if (!hasScope(key, scope)) {
      throw new CosttrailError("CT_FORBIDDEN", `The API key ${JSON.stringify(key.name)} lacks the ${scope} scope`, {
        path: ["headers", "authorization"],
      });
    }
    request.apiKey = key;
  };
}
