import type { ApiKeyRecord } from "../auth/api-keys.js";
import type { ReadScope } from "../store/ledger-store.js";

declare module "fastify" {
  interface FastifyRequest {
    readScope: ReadScope;
  }
}

/**
 * The one scoping function: what a key may read. Every read route gets its scope from the
 * query plugin's hook, which calls this, and every store read method requires it.
 */
export function readScopeFor(key: ApiKeyRecord): ReadScope {
  return { projects: key.projects === null ? null : [...key.projects] };
}
