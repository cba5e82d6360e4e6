import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./server-process.js";

/** Runs the server, sends one query, stops it, and returns its log lines. */
async function logsOfOneQuery(args: string[]): Promise<{ out: string; key: string; records: Array<Record<string, unknown>> }> {
  const dir = await mkdtemp(join(tmpdir(), "ct-logs-"));
  const key = `ct_${"L".repeat(40)}`;
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dir, ...args], {
    env: { ...process.env, COSTTRAIL_ADMIN_KEY: key },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(err)), 20_000);
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
  });
  const res = await fetch(`${url}/v1/query`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: '{"metrics":["requests"]}',
  });
  expect(res.status).toBe(200);
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  const lines = out.trim().split("\n");
  return { out, key, records: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("costtrail serve logs", () => {
  it("writes one JSON object per line, one summary of requests instead of a line each, and never the API key", async () => {
    const { out, key, records } = await logsOfOneQuery([]);
    expect(records.every((r) => typeof r.level === "number" && typeof r.msg === "string")).toBe(true);
    expect(records.some((r) => r.url === "/v1/query")).toBe(false);
    expect(records.find((r) => r.msg === "requests")).toMatchObject({ requests: 1, client_errors: 0, server_errors: 0 });
    expect(out).not.toContain(key);
  }, 30_000);

  it("logs a line per request at debug level", async () => {
    const { out, key, records } = await logsOfOneQuery(["--log-level", "debug"]);
    expect(records.find((r) => r.url === "/v1/query")).toMatchObject({ method: "POST", status: 200 });
    expect(out).not.toContain(key);
  }, 30_000);
});
