import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./server-process.js";

describe("costtrail serve logs", () => {
  it("writes one JSON object per line and never the API key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-logs-"));
    const key = `ct_${"L".repeat(40)}`;
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dir], {
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
    const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; req?: { url: string } });
    expect(records.some((r) => r.req?.url === "/v1/query")).toBe(true);
    expect(records.every((r) => typeof r.level === "number" && typeof r.msg === "string")).toBe(true);
    expect(out).not.toContain(key);
  }, 30_000);
});
