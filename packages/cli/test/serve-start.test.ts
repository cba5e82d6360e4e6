import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, type ServerProcess, startServerProcess } from "./server-process.js";

/** Resolves once the server's stderr matches, or rejects after 30 s with what it printed. */
async function waitFor(server: ServerProcess, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pattern.test(server.stderr())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill("SIGTERM");
  await server.exited;
}

async function modes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { ".": ((await stat(dir)).mode & 0o777).toString(8) };
  for (const name of await readdir(dir)) {
    // A compaction may delete a segment between the listing and the stat.
    const s = await stat(join(dir, name)).catch(() => null);
    if (s) out[name] = (s.mode & 0o777).toString(8);
  }
  return out;
}

describe("costtrail serve start-up output", () => {
  it("prints the new admin key and how to use it last, after the listening line and the demo summary", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "ct-banner-")), "data");
    const server = await startServerProcess(dir, {}, ["--demo", "--demo-events", "300"]);
    try {
      await waitFor(server, /COSTTRAIL_API_KEY=ct_\w+\n.*\n$/);
      await new Promise((r) => setTimeout(r, 300));
      const out = server.stderr();
      const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
      const listening = out.indexOf("Costtrail listening on");
      const demo = out.indexOf("Demo data loaded:");
      const block = out.indexOf("Admin key (shown once;");
      expect(listening).toBeGreaterThanOrEqual(0);
      expect(demo).toBeGreaterThan(listening);
      expect(block).toBeGreaterThan(demo);
      const link = /\n {2}(http:\/\/127\.0\.0\.1:\d+\/#sign-in=[\w-]{43})\n/.exec(out)?.[1] as string;
      expect(link.startsWith(`${server.url}/#sign-in=`)).toBe(true);
      expect(link).not.toContain(key);
      expect(out.slice(block)).toBe(
        [
          `Admin key (shown once; kept in ${join(dir, "admin.key")}, mode 0600):`,
          `  ${key}`,
          "Dashboard: open this link to sign in as the admin (it works once, for a day; sign in later with a key):",
          `  ${link}`,
          "Use the key from a shell or another machine with:",
          `  export COSTTRAIL_URL=${server.url}`,
          `  export COSTTRAIL_API_KEY=${key}`,
          `or send "Authorization: Bearer <key>" to ${server.url}/v1/…`,
          "",
        ].join("\n"),
      );
      expect(out.indexOf(key)).toBeGreaterThan(demo);
      // The demo comes with its budgets, kept where they can be edited (and only by their owner).
      expect(out).toContain(`Demo budgets, agent-run ceilings and alerts: ${join(dir, "costtrail.demo.yaml")}`);
      expect((await stat(join(dir, "costtrail.demo.yaml"))).mode & 0o777).toBe(0o600);
      const res = await fetch(`${server.url}/v1/budgets`, { headers: { authorization: `Bearer ${key}` } });
      const names = ((await res.json()) as { budgets: Array<{ name: string }> }).budgets.map((b) => b.name);
      expect(new Set(names)).toEqual(new Set(["dev-tools-30d", "support-bot-30d", "code-review-weekly", "per-customer-daily"]));
      // The link's token (after #, so never sent in a URL) opens one dashboard session as the admin, once.
      const token = link.split("#sign-in=")[1];
      const signIn = () =>
        fetch(`${server.url}/v1/sessions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ link: token }),
        });
      const first = await signIn();
      expect(first.status).toBe(201);
      expect(((await first.json()) as { key: { name: string; scopes: string[] } }).key).toMatchObject({
        name: "bootstrap admin",
        scopes: ["admin"],
      });
      const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
      expect(cookie).toMatch(/^costtrail_session=[\w-]{43}$/);
      const me = await fetch(`${server.url}/v1/budgets`, { headers: { cookie } });
      expect(me.status).toBe(200);
      const again = await signIn();
      expect(again.status).toBe(401);
      expect(((await again.json()) as { message: string }).message).toMatch(/already used or has expired/);
    } finally {
      await stop(server);
    }
  }, 60_000);

  it("keeps the sign-in instructions last when logs and messages share one output", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-banner-"));
    const outFile = join(dir, "out.log");
    const fd = openSync(outFile, "w");
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--data-dir", join(dir, "data"), "--demo", "--demo-events", "300"],
      {
        stdio: ["ignore", fd, fd],
      },
    );
    try {
      const deadline = Date.now() + 30_000;
      while (!/Authorization: Bearer <key>/.test(await readFile(outFile, "utf8")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      const lines = (await readFile(outFile, "utf8")).trim().split("\n");
      expect(lines.some((l) => l.includes('"msg":"Server listening at'))).toBe(true);
      expect(lines.at(-1)).toMatch(/^or send "Authorization: Bearer <key>" to http:\/\/127\.0\.0\.1:\d+\/v1\/…$/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      closeSync(fd);
    }
  }, 60_000);

  it("says where the key is, without printing it, when it already exists", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-banner-"));
    await stop(await startServerProcess(dir, {}));
    const again = await startServerProcess(dir, {});
    try {
      await waitFor(again, /COSTTRAIL_API_KEY=.*\n.*\n$/);
      const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
      expect(again.stderr()).toContain(`Admin key: in ${join(dir, "admin.key")}.`);
      expect(again.stderr()).toContain(`export COSTTRAIL_API_KEY="$(cat ${join(dir, "admin.key")})"`);
      expect(again.stderr()).not.toContain(key);
    } finally {
      await stop(again);
    }
  }, 60_000);
});

describe("costtrail serve data directory", () => {
  it("keeps the directory 0700 and the ledger, its live segments and the key 0600, also when it existed with looser modes", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "ct-modes-")), "data");
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await writeFile(join(dir, "admin.key"), `ct_${"M".repeat(40)}\n`, { mode: 0o644 });
    await chmod(join(dir, "admin.key"), 0o644);
    const config = join(await mkdtemp(join(tmpdir(), "ct-modes-conf-")), "costtrail.yaml");
    await writeFile(config, "server:\n  segment_events: 300\n");
    // An operator-chosen key (openssl rand -hex 32) also works end to end.
    const secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const server = await startServerProcess(dir, { COSTTRAIL_ADMIN_KEY: secret }, ["--config", config]);
    try {
      for (let n = 0; n < 5; n++) {
        const events = Array.from({ length: 200 }, (_, i) => ({
          id: `m${n}_${i}`,
          timestamp: new Date(Date.now() - 1000).toISOString(),
          provider: "openai",
          model: "gpt-4o-mini",
          usage: { input_tokens: 10, output_tokens: 1 },
        }));
        const res = await fetch(`${server.url}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
          body: JSON.stringify(events),
        });
        expect(res.status).toBe(200);
      }
      const running = await modes(dir);
      expect(Object.keys(running).some((f) => /\.live-\d+$/.test(f))).toBe(true);
      expect(Object.keys(running).some((f) => /\.live-\d+\.wal$/.test(f))).toBe(true);
      expect(running).toEqual(Object.fromEntries(Object.keys(running).map((f) => [f, f === "." ? "700" : "600"])));
    } finally {
      await stop(server);
    }
    const after = await modes(dir);
    expect(after).toEqual(Object.fromEntries(Object.keys(after).map((f) => [f, f === "." ? "700" : "600"])));
  }, 60_000);
});
