import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCosttrail } from "./run-costtrail.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const ADMIN = `ct_${"R".repeat(40)}`;
const CONFIGURED = `ct_${"Y".repeat(40)}`;
let server: ServerProcess;
let dir: string;

function costtrail(args: string[], env: Record<string, string> = {}) {
  return runCosttrail(args, { cwd: dir, env: { ...process.env, COSTTRAIL_URL: server.url, COSTTRAIL_API_KEY: ADMIN, ...env } });
}

interface Listed {
  id: string;
  name: string;
  source: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

async function listKeys(): Promise<Listed[]> {
  const r = await costtrail(["keys", "list", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
}

async function createKey(name: string): Promise<{ id: string; key: string }> {
  const r = await costtrail(["keys", "create", "--name", name, "--scopes", "read", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { id: string; key: string };
}

/** A read through the real CLI with the given key: its exit code and, on failure, the error code. */
async function readWith(key: string): Promise<string> {
  const r = await costtrail(["report", "--format", "json"], { COSTTRAIL_API_KEY: key });
  return r.code === 0 ? "ok" : (/error (CT_[A-Z_]+)/.exec(r.stderr)?.[1] ?? r.stderr);
}

/** The HTTP status of one read with the key: fast, for checks that race a clock. */
async function statusWith(key: string): Promise<number> {
  const r = await fetch(`${server.url}/v1/query`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: '{"metrics":["requests"]}',
  });
  return r.status;
}

async function startServer(): Promise<ServerProcess> {
  return startServerProcess(join(dir, "data"), { COSTTRAIL_ADMIN_KEY: ADMIN }, ["--config", join(dir, "costtrail.yaml")]);
}

async function stopServer(): Promise<void> {
  server.child.kill("SIGTERM");
  await server.exited;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ct-keys-cli-"));
  const hash = `sha256:${createHash("sha256").update(CONFIGURED).digest("hex")}`;
  await writeFile(join(dir, "costtrail.yaml"), `api_keys:\n  - name: ci\n    hash: ${hash}\n    scopes: [read]\n`);
  server = await startServer();
}, 60_000);

afterAll(stopServer);

describe("costtrail keys", () => {
  it("lists keys with their source, without secrets or hashes", async () => {
    const created = await createKey("lister");
    const r = await costtrail(["keys", "list"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^id\s+name\s+source\s+scopes\s+projects\s+created\s+last_used\s+revoked\n/);
    expect(r.stdout).toMatch(/bootstrap-admin\s+bootstrap admin\s+bootstrap\s+admin\s+\(all\)/);
    expect(r.stdout).toMatch(/config:ci\s+ci\s+config\s+read/);
    expect(r.stdout).toContain(created.id);
    expect(r.stdout).not.toContain(created.key);
    expect(r.stdout).not.toContain("sha256:");
  });

  it("shows when a key was last used", async () => {
    const { id, key } = await createKey("used");
    expect((await listKeys()).find((k) => k.id === id)?.last_used_at).toBeNull();
    expect(await readWith(key)).toBe("ok");
    expect((await listKeys()).find((k) => k.id === id)?.last_used_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("revokes a key: its next request is refused with CT_UNAUTHORIZED", async () => {
    const { id, key } = await createKey("to-revoke");
    expect(await readWith(key)).toBe("ok");
    const r = await costtrail(["keys", "revoke", id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Revoked ${id} \\(to-revoke\\); refused since \\d{4}-`));
    expect(await readWith(key)).toBe("CT_UNAUTHORIZED");
  });

  it("rotates a key with a grace period: both keys work, then only the new one", async () => {
    const old = await createKey("to-rotate");
    const r = await costtrail(["keys", "rotate", old.id, "--grace", "2"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`to replace ${old.id}\\.\\nKey \\(shown once\\):\\n  ct_[0-9A-Za-z]{40}\\n`));
    expect(r.stdout).toMatch(/The old key stops working at \d{4}-\d\d-\d\dT[\d:.]+Z \(in 2 s\)\.\n$/);
    const fresh = /\n {2}(ct_\w+)\n/.exec(r.stdout)?.[1] as string;
    const stops = Date.parse(/working at (\S+)/.exec(r.stdout)?.[1] as string);
    expect([await statusWith(old.key), await statusWith(fresh)]).toEqual([200, 200]);
    await new Promise((done) => setTimeout(done, Math.max(0, stops - Date.now()) + 50));
    expect([await readWith(old.key), await readWith(fresh)]).toEqual(["CT_UNAUTHORIZED", "ok"]);
  });

  it("refuses to revoke a key from costtrail.yaml, and the key keeps working", async () => {
    const r = await costtrail(["keys", "revoke", "config:ci"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error CT_KEY_NOT_REVOCABLE");
    expect(r.stderr).toContain("costtrail.yaml");
    expect(await readWith(CONFIGURED)).toBe("ok");
  });

  it("names the id when it is unknown", async () => {
    const r = await costtrail(["keys", "rotate", "key_nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error CT_KEY_NOT_FOUND:\n404 No API key has the id "key_nope"');
  });

  it("refuses an empty or blank --projects, or an empty project name, and creates nothing", async () => {
    const before = (await listKeys()).length;
    for (const projects of ["", " ", "a,,b", "a,"]) {
      const r = await costtrail(["keys", "create", "--name", "x", "--scopes", "read", "--projects", projects]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("error CT_INVALID_ARGUMENT:\n--projects: must be a comma-separated list of names, none empty");
    }
    expect(await listKeys()).toHaveLength(before);
  });

  it("takes the grace period as a duration and says when the old key stops", async () => {
    const { id } = await createKey("patient");
    const before = Date.now();
    const r = await costtrail(["keys", "rotate", id, "--grace", "1h", "--json"]);
    expect(r.code).toBe(0);
    const stops = Date.parse((JSON.parse(r.stdout) as { replaces: { revoked_at: string } }).replaces.revoked_at);
    expect(stops - before).toBeGreaterThanOrEqual(3_600_000);
    expect(stops - Date.now()).toBeLessThanOrEqual(3_600_000);
  });

  it("refuses a grace period that is not a duration of at most 7 days", async () => {
    const { id } = await createKey("graceless");
    for (const grace of ["-1", "1.5", "604801", "8d", "1w", ""]) {
      const r = await costtrail(["keys", "rotate", id, "--grace", grace]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--grace: must be a duration of at most 7d (604800 seconds)");
    }
    expect((await listKeys()).find((k) => k.id === id)?.revoked_at).toBeNull();
  });

  it("hashes an operator's secret of the form COSTTRAIL_ADMIN_KEY accepts", async () => {
    const secret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08+/=!";
    const r = await costtrail(["keys", "hash", secret]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`sha256:${createHash("sha256").update(secret).digest("hex")}\n`);
    const short = await costtrail(["keys", "hash", "too-short"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("32 to 512 printable ASCII characters without spaces");
  });

  it("shows last use and revocations after the server restarts", async () => {
    const used = await createKey("survivor");
    const revoked = await createKey("revoked-before-restart");
    expect(await readWith(used.key)).toBe("ok");
    expect((await costtrail(["keys", "revoke", revoked.id])).code).toBe(0);
    const usedAt = (await listKeys()).find((k) => k.id === used.id)?.last_used_at;
    await stopServer();
    server = await startServer();
    const after = await listKeys();
    expect(after.find((k) => k.id === used.id)?.last_used_at).toBe(usedAt);
    expect(after.find((k) => k.id === revoked.id)?.revoked_at).toMatch(/^\d{4}-/);
    expect(await readWith(revoked.key)).toBe("CT_UNAUTHORIZED");
  }, 60_000);
});
