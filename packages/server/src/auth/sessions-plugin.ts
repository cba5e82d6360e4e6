import { CosttrailError, isPlainObject } from "@costtrail/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ApiKeyRecord, type KeyRing, hasScope, isRevoked } from "./api-keys.js";
import { SESSION_COOKIE, requireScope } from "./authenticate.js";
import type { SessionBook } from "./session-book.js";

export interface SessionsPluginOptions {
  readonly keys: KeyRing;
  readonly sessions: SessionBook;
}

/** What the dashboard needs to know about who is signed in: never the key or its hash. */
function whoAmI(k: ApiKeyRecord, via: "session" | "key") {
  return { via, key: { id: k.id, name: k.name, scopes: [...k.scopes], projects: k.projects } };
}

/**
 * Dashboard sign-in: a read key, or a one-time link from the start banner, is exchanged for a
 * session cookie. The key is sent once, in a POST body (not a URL, so not in logs or history).
 */
export async function sessionsPlugin(app: FastifyInstance, opts: SessionsPluginOptions): Promise<void> {
  const read = requireScope(opts.keys, "read");

  const start = (request: FastifyRequest, reply: FastifyReply, key: ApiKeyRecord) => {
    if (!hasScope(key, "read"))
      throw new CosttrailError("CT_FORBIDDEN", `The API key ${JSON.stringify(key.name)} lacks the read scope the dashboard needs`, {
        path: ["body", "key"],
      });
    const token = opts.sessions.open(key.id);
    opts.keys.recordUse(key.id);
    reply.setCookie(SESSION_COOKIE, token, {
      path: "/",
      httpOnly: true,
      sameSite: "strict",
      secure: request.protocol === "https",
      maxAge: Math.floor(opts.sessions.maxAgeMs / 1000),
    });
    return reply.code(201).send({ signed_in: true, ...whoAmI(key, "session") });
  };

  app.post("/v1/sessions", async (request, reply) => {
    const body = request.body;
    if (!isPlainObject(body)) throw new CosttrailError("CT_INVALID_BODY", "must be a JSON object with key or link", { path: ["body"] });
    const fields = Object.keys(body);
    const unknown = fields.find((f) => f !== "key" && f !== "link");
    if (unknown !== undefined)
      throw new CosttrailError("CT_INVALID_BODY", `${unknown}: is not a sign-in field; send key or link`, { path: ["body", unknown] });
    if ((body.key === undefined) === (body.link === undefined))
      throw new CosttrailError("CT_INVALID_BODY", "send exactly one of key (an API key) or link (a sign-in link's token)", {
        path: ["body"],
      });
    if (body.key !== undefined) {
      if (typeof body.key !== "string" || body.key.length === 0)
        throw new CosttrailError("CT_INVALID_BODY", "key: must be an API key (ct_…)", { path: ["body", "key"] });
      const key = opts.keys.find(body.key);
      if (!key) throw new CosttrailError("CT_UNAUTHORIZED", "The API key is not known, or was revoked", { path: ["body", "key"] });
      return start(request, reply, key);
    }
    if (typeof body.link !== "string")
      throw new CosttrailError("CT_INVALID_BODY", "link: must be the token after #sign-in= in a sign-in link", { path: ["body", "link"] });
    const keyId = opts.sessions.redeemLink(body.link);
    const key = keyId === null ? null : opts.keys.get(keyId);
    if (!key || isRevoked(key, opts.keys.now()))
      throw new CosttrailError(
        "CT_UNAUTHORIZED",
        "This sign-in link was already used or has expired; sign in with a key, or restart the server for a new link",
        { path: ["body", "link"] },
      );
    return start(request, reply, key);
  });

  // The dashboard asks this first: without a key the answer is "not signed in" (200), also for a
  // session that has ended, so a first visit or a visit after a restart is not an error; a
  // wrong key is a 401.
  app.get("/v1/sessions/current", async (request, reply) => {
    if (request.headers.authorization === undefined) {
      if (request.cookies[SESSION_COOKIE] === undefined) return { signed_in: false };
      if (!request.sessionKey) {
        // Ended by a restart, idleness, sign-out elsewhere or its key's revocation.
        reply.clearCookie(SESSION_COOKIE, { path: "/" });
        return { signed_in: false, session_ended: true };
      }
    }
    await read(request, reply);
    const key = request.apiKey as ApiKeyRecord;
    return { signed_in: true, ...whoAmI(key, request.headers.authorization === undefined ? "session" : "key") };
  });

  // Signing out needs no scope: a session whose key was revoked can still be ended.
  app.delete("/v1/sessions/current", async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) opts.sessions.close(token);
    reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return reply.code(204).send();
  });
}
