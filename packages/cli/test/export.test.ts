import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCosttrail } from "./run-costtrail.js";
import { BIN } from "./server-process.js";

/** A server on loopback that starts an export and then sends nothing more, until closed. */
async function stalledExportServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/csv", "content-length": "1000", "x-costtrail-rows": "10" });
    res.write("id,timestamp\n".padEnd(400, "x"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A server on loopback that starts an export and drops the connection halfway through. */
async function brokenExportServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/csv", "content-length": "1000", "x-costtrail-rows": "10" });
    res.write("id,timestamp\n".padEnd(400, "x"));
    setTimeout(() => res.socket?.destroy(), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("costtrail export", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ] as const)("leaves no file behind when interrupted (%s)", async (signal, exitCode) => {
    const server = await stalledExportServer();
    const dir = await mkdtemp(join(tmpdir(), "ct-export-"));
    try {
      const child = spawn(
        process.execPath,
        [BIN, "export", "--format", "csv", "--out", join(dir, "events.csv"), "--url", server.url, "--api-key", `ct_${"E".repeat(40)}`],
        {
          stdio: "ignore",
        },
      );
      const deadline = Date.now() + 15_000;
      while ((await readdir(dir)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await readdir(dir))[0]).toMatch(/^events\.csv\.part-\d+$/);
      child.kill(signal);
      const code = await new Promise((r) => child.once("exit", r));
      expect(code).toBe(exitCode);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("leaves no file behind when the export breaks off", async () => {
    const server = await brokenExportServer();
    const dir = await mkdtemp(join(tmpdir(), "ct-export-"));
    try {
      const r = await runCosttrail([
        "export",
        "--format",
        "csv",
        "--out",
        join(dir, "events.csv"),
        "--url",
        server.url,
        "--api-key",
        `ct_${"E".repeat(40)}`,
      ]);
      expect(r.code).not.toBe(0);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
