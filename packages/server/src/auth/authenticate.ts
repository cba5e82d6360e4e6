import { CosttrailError } from "@costtrail/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Scope } from "../config/load-config.js";
import { type ApiKeyRecord, type KeyRing, hasScope } from "./api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
}

/** A preHandler-style hook: a valid Bearer key with the scope, or 401/403. A known key's use is recorded, also when it lacks the scope. */
export function requireScope(keys: KeyRing, scope: Scope) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new CosttrailError("CT_UNAUTHORIZED", "Send Authorization: Bearer <api key>", { path: ["headers", "authorization"] });
    const key = keys.find(match[1] as string);
    if (!key)
      throw new CosttrailError("CT_UNAUTHORIZED", "The API key is not known, or was revoked", { path: ["headers", "authorization"] });
    keys.recordUse(key.id);
    if (!hasScope(key, scope)) {
      throw new CosttrailError("CT_FORBIDDEN", `The API key ${JSON.stringify(key.name)} lacks the ${scope} scope`, {
        path: ["headers", "authorization"],
      });
    }
    request.apiKey = key;
  };
}
