import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.js";
import { KeyRing, generateApiKey, hashApiKey } from "../src/auth/api-keys.js";
import { parseConfig } from "../src/config/load-config.js";
import { type RunningServer, startServer } from "../src/serve.js";
import { type TestLedger, auth, openTestLedger } from "./helpers.js";

const START = Date.parse("2026-11-20T10:00:00Z");

interface KeyApp {
  app: FastifyInstance;
  store: TestLedger;
  admin: string;
  configured: string;
  /** The ring's clock; tests move it to pass a grace period. */
  clock: { now: number };
}

let open: KeyApp | null = null;
afterEach(async () => {
  await open?.app.close();
  await open?.store.close();
  open = null;
});

/** A real app on an in-memory ledger, with a bootstrap admin key, one configured read key, and a clock the test sets. */
async function keyApp(): Promise<KeyApp> {
  const config = parseConfig("", "test.yaml");
  const store = await openTestLedger({ path: ":memory:" });
  const rateCard = await loadDefaultRateCard();
  const clock = { now: START };
  const admin = generateApiKey();
  const configured = generateApiKey();
  const keys = new KeyRing(() => clock.now);
  keys.replace([
    {
      id: "bootstrap-admin",
      name: "bootstrap admin",
      hash: hashApiKey(admin),
      scopes: new Set(["admin"]),
      projects: null,
      source: "bootstrap",
    },
    { id: "config:ci", name: "ci", hash: hashApiKey(configured), scopes: new Set(["read"]), projects: ["proj-a"], source: "config" },
  ]);
  const app = await buildApp({ store, rateCard: () => rateCard, keys, config: () => config });
  open = { app, store, admin, configured, clock };
  return open;
}

async function create(t: KeyApp, body: Record<string, unknown> = { name: "finance", scopes: ["read"], projects: ["proj-a"] }) {
  const r = await t.app.inject({ method: "POST", url: "/v1/keys", headers: auth(t.admin), payload: body });
  expect(r.statusCode).toBe(201);
  return r.json() as { id: string; key: string };
}

async function statusWith(t: KeyApp, key: string): Promise<number> {
  return (await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(key), payload: { metrics: ["requests"] } })).statusCode;
}

async function list(t: KeyApp) {
  const r = await t.app.inject({ method: "GET", url: "/v1/keys", headers: auth(t.admin) });
  expect(r.statusCode).toBe(200);
  return r.json().keys as Array<Record<string, unknown>>;
}

describe("GET /v1/keys", () => {
  it("lists every key with its source, scopes, projects and times, and never a secret or a hash", async () => {
    const t = await keyApp();
    const created = await create(t);
    const r = await t.app.inject({ method: "GET", url: "/v1/keys", headers: auth(t.admin) });
    expect(r.json().keys).toEqual([
      {
        id: "bootstrap-admin",
        name: "bootstrap admin",
        scopes: ["admin"],
        projects: null,
        source: "bootstrap",
        created_at: null,
        revoked_at: null,
        last_used_at: "2026-11-20T10:00:00.000Z",
      },
      {
        id: "config:ci",
        name: "ci",
        scopes: ["read"],
        projects: ["proj-a"],
        source: "config",
        created_at: null,
        revoked_at: null,
        last_used_at: null,
      },
      {
        id: created.id,
        name: "finance",
        scopes: ["read"],
        projects: ["proj-a"],
        source: "store",
        created_at: "2026-11-20T10:00:00.000Z",
        revoked_at: null,
        last_used_at: null,
      },
    ]);
    expect(r.body).not.toContain("sha256:");
    expect(r.body).not.toContain(created.key);
  });

  it("shows when a key was last used, also a configured one", async () => {
    const t = await keyApp();
    t.clock.now = START + 5_000;
    expect(await statusWith(t, t.configured)).toBe(200);
    expect((await list(t)).find((k) => k.id === "config:ci")?.last_used_at).toBe("2026-11-20T10:00:05.000Z");
  });
});

describe("DELETE /v1/keys/:id", () => {
  it("revokes a created key at once: its next request gets 401", async () => {
    const t = await keyApp();
    const { id, key } = await create(t);
    expect(await statusWith(t, key)).toBe(200);
    const r = await t.app.inject({ method: "DELETE", url: `/v1/keys/${id}`, headers: auth(t.admin) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id, revoked_at: "2026-11-20T10:00:00.000Z" });
    const refused = await t.app.inject({ method: "POST", url: "/v1/query", headers: auth(key), payload: { metrics: ["requests"] } });
    expect([refused.statusCode, refused.json().code]).toEqual([401, "CT_UNAUTHORIZED"]);
  });

  it("keeps the revocation in the store", async () => {
    const t = await keyApp();
    const { id } = await create(t);
    await t.app.inject({ method: "DELETE", url: `/v1/keys/${id}`, headers: auth(t.admin) });
    expect((await t.store.listApiKeys()).find((k) => k.id === id)?.revoked_ms).toBe(START);
  });

  it("refuses to revoke a key from costtrail.yaml with 409 CT_KEY_NOT_REVOCABLE, and the key keeps working", async () => {
    const t = await keyApp();
    const r = await t.app.inject({ method: "DELETE", url: "/v1/keys/config:ci", headers: auth(t.admin) });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toEqual({
      code: "CT_KEY_NOT_REVOCABLE",
      message: 'The key "config:ci" is set in costtrail.yaml (api_keys); remove it there and the next reload stops it',
      path: ["params", "id"],
    });
    expect(await statusWith(t, t.configured)).toBe(200);
  });

  it("refuses to revoke the bootstrap admin key with 409 CT_KEY_NOT_REVOCABLE", async () => {
    const t = await keyApp();
    const r = await t.app.inject({ method: "DELETE", url: "/v1/keys/bootstrap-admin", headers: auth(t.admin) });
    expect([r.statusCode, r.json().code]).toEqual([409, "CT_KEY_NOT_REVOCABLE"]);
    expect(r.json().message).toContain("COSTTRAIL_ADMIN_KEY");
    expect(await statusWith(t, t.admin)).toBe(200);
  });

  it("answers an unknown id with 404 CT_KEY_NOT_FOUND", async () => {
    const t = await keyApp();
    const r = await t.app.inject({ method: "DELETE", url: "/v1/keys/key_nope", headers: auth(t.admin) });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ code: "CT_KEY_NOT_FOUND", message: 'No API key has the id "key_nope"', path: ["params", "id"] });
  });

  it("refuses read keys", async () => {
    const t = await keyApp();
    const { id } = await create(t);
    const r = await t.app.inject({ method: "DELETE", url: `/v1/keys/${id}`, headers: auth(t.configured) });
    expect([r.statusCode, r.json().code]).toEqual([403, "CT_FORBIDDEN"]);
  });
});

describe("POST /v1/keys/:id/rotate", () => {
  it("makes a new key with the same name, scopes and projects, shown once, and stops the old one at once by default", async () => {
    const t = await keyApp();
    const old = await create(t, { name: "ingest-a", scopes: ["ingest", "read"], projects: ["proj-a", "proj-b"] });
    const r = await t.app.inject({ method: "POST", url: `/v1/keys/${old.id}/rotate`, headers: auth(t.admin) });
    expect(r.statusCode).toBe(201);
    const rotated = r.json();
    expect(rotated).toMatchObject({
      name: "ingest-a",
      scopes: ["ingest", "read"],
      projects: ["proj-a", "proj-b"],
      source: "store",
      replaces: { id: old.id, revoked_at: "2026-11-20T10:00:00.000Z" },
    });
    expect(rotated.id).not.toBe(old.id);
    expect(rotated.key).toMatch(/^ct_[0-9A-Za-z]{40}$/);
    expect(await statusWith(t, old.key)).toBe(401);
    expect(await statusWith(t, rotated.key)).toBe(200);
    expect(JSON.stringify(await list(t))).not.toContain(rotated.key);
  });

  it("keeps both keys working through the grace period, then refuses the old one", async () => {
    const t = await keyApp();
    const old = await create(t);
    const r = await t.app.inject({
      method: "POST",
      url: `/v1/keys/${old.id}/rotate`,
      headers: auth(t.admin),
      payload: { grace_seconds: 3600 },
    });
    expect(r.json().replaces).toEqual({ id: old.id, revoked_at: "2026-11-20T11:00:00.000Z" });
    t.clock.now = START + 3_599_999;
    expect([await statusWith(t, old.key), await statusWith(t, r.json().key)]).toEqual([200, 200]);
    t.clock.now = START + 3_600_000;
    expect([await statusWith(t, old.key), await statusWith(t, r.json().key)]).toEqual([401, 200]);
  });

  it("ends a grace period at once when the old key is revoked", async () => {
    const t = await keyApp();
    const old = await create(t);
    const headers = auth(t.admin);
    await t.app.inject({ method: "POST", url: `/v1/keys/${old.id}/rotate`, headers, payload: { grace_seconds: 3600 } });
    t.clock.now = START + 60_000;
    const r = await t.app.inject({ method: "DELETE", url: `/v1/keys/${old.id}`, headers });
    expect(r.json().revoked_at).toBe("2026-11-20T10:01:00.000Z");
    expect(await statusWith(t, old.key)).toBe(401);
  });

  it("refuses a grace period that is not a whole number of seconds up to 7 days", async () => {
    const t = await keyApp();
    const { id, key } = await create(t);
    for (const grace_seconds of [604_801, -1, 1.5, "60"]) {
      const r = await t.app.inject({ method: "POST", url: `/v1/keys/${id}/rotate`, headers: auth(t.admin), payload: { grace_seconds } });
      expect([r.statusCode, r.json().code, r.json().path]).toEqual([400, "CT_INVALID_ARGUMENT", ["grace_seconds"]]);
    }
    expect(await statusWith(t, key)).toBe(200);
  });

  it("refuses a misspelt field instead of rotating without a grace period", async () => {
    const t = await keyApp();
    const { id, key } = await create(t);
    const r = await t.app.inject({ method: "POST", url: `/v1/keys/${id}/rotate`, headers: auth(t.admin), payload: { grace: 3600 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().issues).toEqual([{ code: "unknown_field", path: ["grace"], message: "is not a known field; expected grace_seconds" }]);
    expect(await statusWith(t, key)).toBe(200);
  });

  it("refuses to rotate a key that is revoked or already rotated, with 409 CT_KEY_REVOKED", async () => {
    const t = await keyApp();
    const headers = auth(t.admin);
    const rotated = await create(t);
    await t.app.inject({ method: "POST", url: `/v1/keys/${rotated.id}/rotate`, headers, payload: { grace_seconds: 60 } });
    const again = await t.app.inject({ method: "POST", url: `/v1/keys/${rotated.id}/rotate`, headers });
    expect([again.statusCode, again.json().code]).toEqual([409, "CT_KEY_REVOKED"]);
    expect(again.json().message).toContain("is already set to stop working at 2026-11-20T10:01:00.000Z");
    const revoked = await create(t);
    await t.app.inject({ method: "DELETE", url: `/v1/keys/${revoked.id}`, headers });
    const r = await t.app.inject({ method: "POST", url: `/v1/keys/${revoked.id}/rotate`, headers });
    expect([r.statusCode, r.json().code]).toEqual([409, "CT_KEY_REVOKED"]);
  });

  it("refuses to rotate configured and bootstrap keys, and unknown ids", async () => {
    const t = await keyApp();
    const answers = [];
    for (const id of ["config:ci", "bootstrap-admin", "key_nope"]) {
      const r = await t.app.inject({ method: "POST", url: `/v1/keys/${id}/rotate`, headers: auth(t.admin) });
      answers.push([r.statusCode, r.json().code]);
    }
    expect(answers).toEqual([
      [409, "CT_KEY_NOT_REVOCABLE"],
      [409, "CT_KEY_NOT_REVOCABLE"],
      [404, "CT_KEY_NOT_FOUND"],
    ]);
  });
});

describe("POST /v1/keys", () => {
  it("refuses an empty project list, a blank project name and a misspelt field", async () => {
    const t = await keyApp();
    for (const extra of [{ projects: [] }, { projects: [" "] }, { projects: ["a", ""] }, { project: ["proj-a"] }]) {
      const r = await t.app.inject({
        method: "POST",
        url: "/v1/keys",
        headers: auth(t.admin),
        payload: { name: "x", scopes: ["read"], ...extra },
      });
      expect([r.statusCode, r.json().code]).toEqual([400, "CT_INVALID_ARGUMENT"]);
    }
    expect(await t.store.listApiKeys()).toEqual([]);
  });
});

describe("a file-backed server", () => {
  const ADMIN = `ct_${"K".repeat(40)}`;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  async function start(dataDir: string, configFile?: string): Promise<RunningServer> {
    server = await startServer({
      port: 0,
      dataDir,
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: ADMIN },
      watchConfig: false,
      ...(configFile && { configFile }),
    });
    return server;
  }

  async function call(s: RunningServer, method: string, path: string, key = ADMIN, body?: unknown) {
    const r = await fetch(`${s.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  async function listed(s: RunningServer): Promise<Array<Record<string, unknown>>> {
    return (await call(s, "GET", "/v1/keys")).body.keys as Array<Record<string, unknown>>;
  }

  it("shows last-used times and keeps revocations after a restart", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "ct-keys-")), "data");
    let s = await start(dataDir);
    const created = (await call(s, "POST", "/v1/keys", ADMIN, { name: "reader", scopes: ["read"] })).body as { id: string; key: string };
    const revoked = (await call(s, "POST", "/v1/keys", ADMIN, { name: "gone", scopes: ["read"] })).body as { id: string; key: string };
    expect((await call(s, "POST", "/v1/query", created.key, { metrics: ["requests"] })).status).toBe(200);
    expect((await call(s, "DELETE", `/v1/keys/${revoked.id}`)).status).toBe(200);
    const before = await listed(s);
    const usedAt = before.find((k) => k.id === created.id)?.last_used_at;
    expect(usedAt).toEqual(expect.any(String));
    await s.close();

    s = await start(dataDir);
    const after = await listed(s);
    expect(after.find((k) => k.id === created.id)).toMatchObject({ last_used_at: usedAt, revoked_at: null });
    expect(after.find((k) => k.id === revoked.id)?.revoked_at).toEqual(expect.any(String));
    expect((await call(s, "POST", "/v1/query", revoked.key, { metrics: ["requests"] })).status).toBe(401);
    expect((await call(s, "POST", "/v1/query", created.key, { metrics: ["requests"] })).status).toBe(200);
  });

  it("keeps revocations and last-used times through a configuration reload", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-keys-reload-"));
    const file = join(dir, "costtrail.yaml");
    const configured = generateApiKey();
    await writeFile(file, `api_keys:\n  - name: ci\n    hash: ${hashApiKey(configured)}\n    scopes: [read]\n`);
    const s = await start(join(dir, "data"), file);
    const revoked = (await call(s, "POST", "/v1/keys", ADMIN, { name: "gone", scopes: ["read"] })).body as { id: string; key: string };
    expect((await call(s, "POST", "/v1/query", configured, { metrics: ["requests"] })).status).toBe(200);
    await call(s, "DELETE", `/v1/keys/${revoked.id}`);
    const usedAt = (await listed(s)).find((k) => k.id === "config:ci")?.last_used_at;
    expect(usedAt).toEqual(expect.any(String));
    await writeFile(file, `api_keys:\n  - name: ci\n    hash: ${hashApiKey(configured)}\n    scopes: [read, ingest]\n`);
    expect(await s.reload()).toEqual({ ok: true });
    expect((await call(s, "POST", "/v1/query", revoked.key, { metrics: ["requests"] })).status).toBe(401);
    const keys = await listed(s);
    expect(keys.map((k) => [k.id, k.scopes])).toEqual([
      ["bootstrap-admin", ["admin"]],
      ["config:ci", ["read", "ingest"]],
      [revoked.id, ["read"]],
    ]);
    expect(keys.find((k) => k.id === revoked.id)?.revoked_at).toEqual(expect.any(String));
    expect(keys.find((k) => k.id === "config:ci")?.last_used_at).toBe(usedAt);
  });
});
