import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Costtrail } from "../src/index.js";
import { Collector } from "./collector.js";
import { FakeProvider } from "./fake-provider.js";

const CHILD = fileURLToPath(new URL("./child/emit-and-exit.mjs", import.meta.url));

let fake: FakeProvider;
let collector: Collector;
let spool: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  collector = await Collector.start();
});
afterAll(async () => {
  await fake.close();
  await collector.close();
});

async function runChild(end: "return" | "exit", feature: string, count: number): Promise<{ code: number | null; stderr: string }> {
  spool = await mkdtemp(join(tmpdir(), "costtrail-sdk-spool-"));
  const child = spawn(process.execPath, [CHILD], {
    env: {
      ...process.env,
      COSTTRAIL_TEST_COLLECTOR: collector.url,
      COSTTRAIL_TEST_KEY: collector.adminKey,
      COSTTRAIL_TEST_SPOOL: spool,
      COSTTRAIL_TEST_PROVIDER: fake.url,
      COSTTRAIL_TEST_FEATURE: feature,
      COSTTRAIL_TEST_COUNT: String(count),
      COSTTRAIL_TEST_END: end,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, stderr };
}

async function spooledEvents(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    for (const line of (await readFile(join(dir, name), "utf8")).split("\n")) {
      if (line) ids.push((JSON.parse(line) as { id: string }).id);
    }
  }
  return ids;
}

describe("process exit with events still queued", () => {
  it("sends them when the app's event loop empties", async () => {
    const { code, stderr } = await runChild("return", "exit-return", 2000);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const rows = await collector.events({ feature: "exit-return" });
    expect(rows).toHaveLength(2003);
    expect(rows.filter((r) => r.model === "gpt-4o-2024-08-06").map((r) => r.cost_usd)).toEqual(["0.00472", "0.00472", "0.00472"]);
    expect(await spooledEvents(spool)).toEqual([]);
    await rm(spool, { recursive: true, force: true });
  });

  it("spools them on process.exit(), and the next start sends them once", async () => {
    const { code } = await runChild("exit", "exit-hard", 1500);
    expect(code).toBe(0);
    const spooled = await spooledEvents(spool);
    expect(spooled).toHaveLength(1503);
    expect(await collector.events({ feature: "exit-hard" })).toEqual([]);
    const next = new Costtrail({ endpoint: collector.url, apiKey: collector.adminKey, spoolDir: spool, flushIntervalMs: 100 });
    try {
      await expect.poll(async () => (await collector.events({ feature: "exit-hard" })).length, { timeout: 10_000 }).toBe(1503);
      await expect.poll(() => spooledEvents(spool)).toEqual([]);
      const ids = (await collector.events({ feature: "exit-hard" })).map((r) => r.id);
      expect(new Set(ids)).toEqual(new Set(spooled));
      expect(next.stats).toMatchObject({ sent: 1503, duplicates: 0, dropped: 0 });
    } finally {
      await next.shutdown();
      await rm(spool, { recursive: true, force: true });
    }
  });
});
