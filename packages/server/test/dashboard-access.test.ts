import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { SessionBook } from "../src/auth/session-book.js";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const cookieOf = (res: LightMyRequestResponse): string => String(res.headers["set-cookie"] ?? "").split(";")[0] as string;

async function signIn(app: TestApp, key: string): Promise<string> {
  const res = await app.app.inject({ method: "POST", url: "/v1/sessions", payload: { key } });
  expect(res.statusCode).toBe(201);
  return cookieOf(res);
}

describe("dashboard sessions", () => {
  it("sign in with a read key: an HttpOnly, SameSite=Strict cookie that reads what the key reads, and never the key itself", async () => {
    t = await makeApp();
    await ingest(t, [wireEvent({ project: "proj-a" }), wireEvent({ project: "proj-b" }), wireEvent({ project: "proj-b" })]);
    const res = await t.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: t.keys.readA } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      signed_in: true,
      via: "session",
      key: { id: "test:read-a", name: "read-a", scopes: ["read"], projects: ["proj-a"] },
    });
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(/^costtrail_session=[\w-]{43}; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(t.keys.readA);
    const cookie = cookieOf(res);
    const me = await t.app.inject({ method: "GET", url: "/v1/sessions/current", headers: { cookie } });
    expect(me.json()).toMatchObject({ signed_in: true, via: "session", key: { name: "read-a" } });
    const q = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { cookie, "x-costtrail-csrf": "1" },
      payload: { metrics: ["requests"], ...RANGE },
    });
    expect(q.json().rows).toEqual([{ requests: 1 }]);
  });

  it("refuses a wrong key, a key without the read scope, and a body with both or neither of key and link, naming the field", async () => {
    t = await makeApp();
    const post = (payload: unknown) => t!.app.inject({ method: "POST", url: "/v1/sessions", payload: payload as object });
    const wrong = await post({ key: "ct_nottherightkeyatallnottherightkey1234" });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: "CT_UNAUTHORIZED", path: ["body", "key"] });
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    const ingestOnly = await post({ key: t.keys.ingest });
    expect(ingestOnly.statusCode).toBe(403);
    expect(ingestOnly.json().message).toMatch(/lacks the read scope the dashboard needs/);
    expect((await post({ key: t.keys.readAll, link: "x" })).json()).toMatchObject({ code: "CT_INVALID_BODY", path: ["body"] });
    expect((await post({})).json()).toMatchObject({ code: "CT_INVALID_BODY", path: ["body"] });
    expect((await post({ key: t.keys.readAll, password: "x" })).json()).toMatchObject({ path: ["body", "password"] });
    expect((await post({ link: 42 })).json()).toMatchObject({ path: ["body", "link"] });
  });

  it("a request that changes something through a session must carry the CSRF header; reads need not", async () => {
    t = await makeApp();
    const cookie = await signIn(t, t.keys.readAll);
    const bare = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { cookie },
      payload: { metrics: ["requests"], ...RANGE },
    });
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: "CT_FORBIDDEN", path: ["headers", "x-costtrail-csrf"] });
    expect((await t.app.inject({ method: "GET", url: "/v1/prices/unpriced", headers: { cookie } })).statusCode).toBe(200);
    // A key in the Authorization header is not a browser's ambient credential: no header needed.
    const keyed = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["requests"], ...RANGE },
    });
    expect(keyed.statusCode).toBe(200);
  });

  it("revoking the key ends its sessions; signing out ends the session; the probe then says signed out without a 401", async () => {
    t = await makeApp();
    const first = await signIn(t, t.keys.readAll);
    const second = await signIn(t, t.keys.readAll);
    const out = await t.app.inject({ method: "DELETE", url: "/v1/sessions/current", headers: { cookie: first } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(/^costtrail_session=; Max-Age=0; Path=\//);
    expect((await t.app.inject({ method: "GET", url: "/v1/events", headers: { cookie: first } })).statusCode).toBe(401);
    expect((await t.app.inject({ method: "GET", url: "/v1/events", headers: { cookie: second } })).statusCode).toBe(200);
    t.ring.revoke("test:read-all", Date.now());
    const ended = await t.app.inject({ method: "GET", url: "/v1/events", headers: { cookie: second } });
    expect(ended.statusCode).toBe(401);
    expect(ended.json()).toMatchObject({ code: "CT_UNAUTHORIZED", path: ["cookies", "costtrail_session"] });
    expect(ended.json().message).toMatch(/session has ended/);
    const probe = await t.app.inject({ method: "GET", url: "/v1/sessions/current", headers: { cookie: second } });
    expect(probe.statusCode).toBe(200);
    expect(probe.json()).toEqual({ signed_in: false, session_ended: true });
    expect((await t.app.inject({ method: "GET", url: "/v1/sessions/current" })).json()).toEqual({ signed_in: false });
    const wrongKey = await t.app.inject({
      method: "GET",
      url: "/v1/sessions/current",
      headers: auth("ct_nottherightkeyatallnottherightkey1234"),
    });
    expect(wrongKey.statusCode).toBe(401);
  });

  it("a sign-in link signs in as its key once", async () => {
    const sessions = new SessionBook();
    t = await makeApp("", {}, { sessions });
    const link = sessions.createLink("test:admin", 60_000);
    const first = await t.app.inject({ method: "POST", url: "/v1/sessions", payload: { link } });
    expect(first.json()).toMatchObject({ key: { name: "admin", scopes: ["admin"] } });
    const again = await t.app.inject({ method: "POST", url: "/v1/sessions", payload: { link } });
    expect(again.statusCode).toBe(401);
    expect(again.json()).toMatchObject({ code: "CT_UNAUTHORIZED", path: ["body", "link"] });
  });
});

describe("the dashboard's files", () => {
  async function builtDashboard(): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "ct-web-"));
    await mkdir(join(root, "assets"));
    await writeFile(join(root, "index.html"), "<!doctype html><title>Costtrail</title><div id=root></div>");
    await writeFile(join(root, "assets", "index-abc123.js"), "console.log(1)");
    return root;
  }

  it("answers each dashboard path with the page under a strict content policy, hashed assets as immutable, and API paths as before", async () => {
    t = await makeApp("", {}, { webRoot: await builtDashboard() });
    for (const url of ["/", "/explore?group_by=model", "/runs/run_9", "/events/evt_1", "/budgets", "/prices", "/sign-in"]) {
      const page = await t.app.inject({ method: "GET", url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.body).toContain("<div id=root>");
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    }
    const asset = await t.app.inject({ method: "GET", url: "/assets/index-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const missing = await t.app.inject({ method: "GET", url: "/assets/nope.js" });
    expect(missing.statusCode).toBe(404);
    const api = await t.app.inject({ method: "GET", url: "/v1/nothing" });
    expect(api.json()).toMatchObject({ code: "CT_NOT_FOUND" });
    expect((await t.app.inject({ method: "GET", url: "/not-a-page" })).statusCode).toBe(404);
  });

  it("says the dashboard is not built, with how to build it, when its files are missing", async () => {
    t = await makeApp("", {}, { webRoot: join(tmpdir(), "ct-web-never-built") });
    const page = await t.app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain("npm run build");
  });
});
