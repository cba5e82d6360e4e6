import { randomUUID } from "node:crypto";
import { CosttrailError, type Issue } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import { SCOPES, type Scope } from "../config/load-config.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { type KeyRing, generateApiKey, hashApiKey } from "./api-keys.js";
import { requireScope } from "./authenticate.js";

export interface KeysPluginOptions {
  readonly store: LedgerStore;
  readonly keys: KeyRing;
}

const KEY_VIEW = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    scopes: { type: "array", items: { type: "string" } },
    projects: { type: ["array", "null"], items: { type: "string" } },
    source: { type: "string" },
    key: { type: "string" },
  },
} as const;

/** Admin routes to create and list API keys. The key is shown once; only its hash is stored. */
export async function keysPlugin(app: FastifyInstance, opts: KeysPluginOptions): Promise<void> {
  app.addHook("onRequest", requireScope(opts.keys, "admin"));

  app.post("/v1/keys", { schema: { response: { 201: KEY_VIEW } } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const issues: Issue[] = [];
    if (typeof body.name !== "string" || body.name.trim() === "" || body.name.length > 128)
      issues.push({ code: "required", path: ["name"], message: "must be a name of 1 to 128 characters" });
    const scopes = body.scopes;
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
      issues.push({ code: "invalid_value", path: ["scopes"], message: `must be a non-empty list of ${SCOPES.join(", ")}` });
    }
    const projects = body.projects ?? null;
    if (
      projects !== null &&
      (!Array.isArray(projects) || projects.length === 0 || !projects.every((p) => typeof p === "string" && p !== ""))
    ) {
      issues.push({
        code: "invalid_value",
        path: ["projects"],
        message: "must be a non-empty list of project names, or absent for all projects",
      });
    }
    if (issues.length > 0)
      throw new CosttrailError("CT_INVALID_ARGUMENT", issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), { issues });
    const key = generateApiKey();
    const record = {
      id: `key_${randomUUID()}`,
      name: body.name as string,
      hash: hashApiKey(key),
      scopes: scopes as Scope[],
      projects: projects as string[] | null,
      created_ms: Date.now(),
      revoked_ms: null,
      last_used_ms: null,
    };
    await opts.store.saveApiKey(record);
    opts.keys.add({ ...record, scopes: new Set(record.scopes), source: "store" });
    return reply
      .code(201)
      .send({ id: record.id, name: record.name, scopes: record.scopes, projects: record.projects, source: "store", key });
  });

  app.get(
    "/v1/keys",
    { schema: { response: { 200: { type: "object", properties: { keys: { type: "array", items: KEY_VIEW } } } } } },
    async () => ({
      keys: opts.keys.list().map((k) => ({ id: k.id, name: k.name, scopes: [...k.scopes], projects: k.projects, source: k.source })),
    }),
  );
}
