import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../src/auth/api-keys.js";
import { type RunningServer, startServer } from "../src/serve.js";

const ADMIN = `ct_${"H".repeat(40)}`;
let server: RunningServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const priced = (rate: string, extra = "") =>
  `pricing:\n  models:\n    - provider: acme\n      model: m\n      rates: { input_mtok: "${rate}" }\n${extra}`;

async function costOf(s: RunningServer, id: string): Promise<string> {
  const headers = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
  const event = { id, timestamp: new Date().toISOString(), provider: "acme", model: "m", usage: { input_tokens: 1000 } };
  const r = await fetch(`${s.url}/v1/events`, { method: "POST", headers, body: JSON.stringify([event]) });
  expect(r.status).toBe(200);
  const list = await fetch(`${s.url}/v1/events?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, { headers });
  return ((await list.json()) as { events: Array<{ id: string; cost_usd: string }> }).events.find((e) => e.id === id)?.cost_usd as string;
}

describe("configuration reload", () => {
  it("prices new events with the new file, keeps the old one when the new one is invalid, and picks up new keys", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-reload-"));
    const file = join(dir, "costtrail.yaml");
    await writeFile(file, priced("1000"));
    server = await startServer({
      port: 0,
      dataDir: join(dir, "data"),
      configFile: file,
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: ADMIN },
      watchConfig: false,
    });
    expect(await costOf(server, "a")).toBe("1"); // 1000 tokens × $1000/M

    const key = generateApiKey();
    await writeFile(file, priced("2000", `api_keys:\n  - name: late\n    hash: ${hashApiKey(key)}\n    scopes: [read]\n`));
    expect(await server.reload()).toEqual({ ok: true });
    expect(await costOf(server, "b")).toBe("2");
    const withNewKey = await fetch(`${server.url}/v1/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: '{"metrics":["requests"]}',
    });
    expect(withNewKey.status).toBe(200);

    await writeFile(file, "pricing:\n  models:\n    - provider: acme\n      model: m\n      rates: { input_mtok: cheap }\n");
    const bad = await server.reload();
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toContain("pricing.models[0].rates.input_mtok");
    expect(await costOf(server, "c")).toBe("2");
  });

  it("reloads by itself when the file changes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-watch-"));
    const file = join(dir, "costtrail.yaml");
    await writeFile(file, priced("1000"));
    server = await startServer({
      port: 0,
      dataDir: join(dir, "data"),
      configFile: file,
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: ADMIN },
    });
    await new Promise((r) => setTimeout(r, 1100)); // a different mtime second on coarse filesystems
    await writeFile(file, priced("3000"));
    let cost = "";
    for (let i = 0; i < 20 && cost !== "3"; i++) {
      await new Promise((r) => setTimeout(r, 300));
      cost = await costOf(server, `w${i}`);
    }
    expect(cost).toBe("3");
  });
});
