import { randomUUID } from "node:crypto";
import { CosttrailError, type Issue } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import { SCOPES, type Scope } from "../config/load-config.js";
import type { LedgerStore, StoredApiKey } from "../store/ledger-store.js";
import { type ApiKeyRecord, type KeyRing, generateApiKey, hashApiKey, isRevoked } from "./api-keys.js";
import { requireScope } from "./authenticate.js";

export interface KeysPluginOptions {
  readonly store: LedgerStore;
  readonly keys: KeyRing;
}

/** A rotation's old key works at most this long: long enough to roll a deploy, short enough to bound a leak. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

const INSTANT = { type: ["string", "null"] } as const;
const KEY_FIELDS = {
  id: { type: "string" },
  name: { type: "string" },
  scopes: { type: "array", items: { type: "string" } },
  projects: { type: ["array", "null"], items: { type: "string" } },
  source: { type: "string" },
  created_at: INSTANT,
  revoked_at: INSTANT,
  last_used_at: INSTANT,
} as const;
const KEY_VIEW = { type: "object", properties: KEY_FIELDS } as const;
const NEW_KEY_VIEW = { type: "object", properties: { ...KEY_FIELDS, key: { type: "string" } } } as const;
const ROTATED_VIEW = {
  type: "object",
  properties: {
    ...KEY_FIELDS,
    key: { type: "string" },
    replaces: { type: "object", properties: { id: { type: "string" }, revoked_at: { type: "string" } } },
  },
} as const;

const ID_PARAMS = { type: "object", properties: { id: { type: "string" } }, required: ["id"] } as const;

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

function view(keys: KeyRing, k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    scopes: [...k.scopes],
    projects: k.projects,
    source: k.source,
    created_at: iso(k.created_ms),
    revoked_at: iso(k.revoked_ms),
    last_used_at: iso(keys.lastUsedMs(k.id)),
  };
}

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_ARGUMENT", issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), { issues });
}

function unknownFields(body: Record<string, unknown>, known: readonly string[]): Issue[] {
  // A misspelt field must not fall back to a default: `project` for `projects` would open every project.
  return Object.keys(body)
    .filter((f) => !known.includes(f))
    .map((f) => ({ code: "unknown_field", path: [f], message: `is not a known field; expected ${known.join(", ")}` }));
}

function bodyObject(body: unknown, example: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  throw invalid([{ code: "invalid_type", path: ["body"], message: `must be a JSON object such as ${example}` }]);
}

function checkNewKey(body: Record<string, unknown>): { name: string; scopes: Scope[]; projects: string[] | null } {
  const issues = unknownFields(body, ["name", "scopes", "projects"]);
  if (typeof body.name !== "string" || body.name.trim() === "" || body.name.length > 128)
    issues.push({ code: "required", path: ["name"], message: "must be a name of 1 to 128 characters" });
  const scopes = body.scopes;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
    issues.push({ code: "invalid_value", path: ["scopes"], message: `must be a non-empty list of ${SCOPES.join(", ")}` });
  }
  const projects = body.projects ?? null;
  if (
    projects !== null &&
    (!Array.isArray(projects) || projects.length === 0 || !projects.every((p) => typeof p === "string" && p.trim() !== ""))
  ) {
    issues.push({
      code: "invalid_value",
      path: ["projects"],
      message: "must be a non-empty list of project names, or absent for all projects",
    });
  }
  if (issues.length > 0) throw invalid(issues);
  return { name: body.name as string, scopes: scopes as Scope[], projects: projects as string[] | null };
}

function checkGrace(body: Record<string, unknown>): number {
  const issues = unknownFields(body, ["grace_seconds"]);
  const grace = body.grace_seconds ?? 0;
  if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    issues.push({
      code: "invalid_value",
      path: ["grace_seconds"],
      message: `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (7 days)`,
    });
  }
  if (issues.length > 0) throw invalid(issues);
  return grace as number;
}

/**
 * Admin routes to create, list, revoke and rotate API keys. A new key is shown once; only its hash is
 * stored. Keys from costtrail.yaml and the bootstrap admin key are listed but managed where they are set.
 */
export async function keysPlugin(app: FastifyInstance, opts: KeysPluginOptions): Promise<void> {
  const { keys, store } = opts;
  app.addHook("onRequest", requireScope(keys, "admin"));

  /** Saves a new key, then adds it to the ring: a key that works is always one the store has. */
  async function createKey(spec: { name: string; scopes: readonly Scope[]; projects: readonly string[] | null }) {
    const secret = generateApiKey();
    const stored: StoredApiKey = {
      id: `key_${randomUUID()}`,
      name: spec.name,
      hash: hashApiKey(secret),
      scopes: [...spec.scopes],
      projects: spec.projects === null ? null : [...spec.projects],
      created_ms: keys.now(),
      revoked_ms: null,
      last_used_ms: null,
    };
    await store.saveApiKey(stored);
    const record: ApiKeyRecord = { ...stored, scopes: new Set(spec.scopes), source: "store" };
    keys.add(record);
    return { ...view(keys, record), key: secret };
  }

  /** The store key an id names, or the precise reason the API may not change it. */
  function managedKey(id: string): ApiKeyRecord {
    const key = keys.get(id);
    if (!key) throw new CosttrailError("CT_KEY_NOT_FOUND", `No API key has the id ${JSON.stringify(id)}`, { path: ["params", "id"] });
    if (key.source === "config")
      throw new CosttrailError(
        "CT_KEY_NOT_REVOCABLE",
        `The key ${JSON.stringify(id)} is set in costtrail.yaml (api_keys); remove it there and the next reload stops it`,
        { path: ["params", "id"] },
      );
    if (key.source === "bootstrap")
      throw new CosttrailError(
        "CT_KEY_NOT_REVOCABLE",
        "The bootstrap admin key cannot be revoked or rotated through the API; change COSTTRAIL_ADMIN_KEY, or delete admin.key from the data directory, and restart",
        { path: ["params", "id"] },
      );
    return key;
  }

  app.post("/v1/keys", { schema: { response: { 201: NEW_KEY_VIEW } } }, async (request, reply) => {
    const spec = checkNewKey(bodyObject(request.body, '{"name": "ci", "scopes": ["ingest"]}'));
    return reply.code(201).send(await createKey(spec));
  });

  app.get(
    "/v1/keys",
    { schema: { response: { 200: { type: "object", properties: { keys: { type: "array", items: KEY_VIEW } } } } } },
    async () => ({
      keys: keys.list().map((k) => view(keys, k)),
    }),
  );

  // Revoking twice is harmless; a revocation only ever moves earlier (it ends a rotation's grace period at once).
  app.delete<{ Params: { id: string } }>(
    "/v1/keys/:id",
    { schema: { params: ID_PARAMS, response: { 200: KEY_VIEW } } },
    async (request) => {
      const key = managedKey(request.params.id);
      const at = keys.now();
      await store.revokeApiKey(key.id, at);
      return view(keys, keys.revoke(key.id, at) as ApiKeyRecord);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/v1/keys/:id/rotate",
    { schema: { params: ID_PARAMS, response: { 201: ROTATED_VIEW } } },
    async (request, reply) => {
      const old = managedKey(request.params.id);
      const grace = checkGrace(bodyObject(request.body, '{"grace_seconds": 3600}'));
      if (old.revoked_ms !== null && old.revoked_ms !== undefined) {
        const when = isRevoked(old, keys.now()) ? "was revoked" : "is already set to stop working";
        throw new CosttrailError(
          "CT_KEY_REVOKED",
          `The key ${JSON.stringify(old.id)} ${when} at ${iso(old.revoked_ms)}; rotate its replacement`,
          {
            path: ["params", "id"],
          },
        );
      }
      const created = await createKey({ name: old.name, scopes: [...old.scopes], projects: old.projects });
      const revokeAt = keys.now() + grace * 1000;
      await store.revokeApiKey(old.id, revokeAt);
      keys.revoke(old.id, revokeAt);
      return reply.code(201).send({ ...created, replaces: { id: old.id, revoked_at: iso(revokeAt) } });
    },
  );
}
