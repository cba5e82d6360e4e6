import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Costtrail } from "../src/index.js";
import { Collector } from "./collector.js";
import { FakeProvider } from "./fake-provider.js";

const OUTAGE_MS = 60_000;

let fake: FakeProvider;
let collector: Collector;
let spool: string;

beforeAll(async () => {
  fake = await FakeProvider.start();
  collector = await Collector.start();
  spool = await mkdtemp(join(tmpdir(), "costtrail-sdk-spool-"));
});
afterAll(async () => {
  await fake.close();
  await collector.close();
  await rm(spool, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(
  "loses and repeats no event through a 60-second collector outage while traffic goes on",
  async () => {
    const errors: string[] = [];
    const ct = new Costtrail({
      endpoint: collector.url,
      apiKey: collector.adminKey,
      project: "outage",
      spoolDir: spool,
      maxBatchSize: 200,
      flushIntervalMs: 250,
      maxBackoffMs: 5000,
      onError: (e) => errors.push(e.message),
    });
    const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }));
    let calls = 0;
    let tracked = 0;
    let stop = false;
    let spooledDuringOutage = 0;
    const traffic = ct.withContext({ feature: "outage-traffic" }, async () => {
      while (!stop) {
        await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
        calls++;
        for (let i = 0; i < 5; i++) {
          ct.track({ provider: "openai", model: "gpt-4o-mini", usage: { input_tokens: 1000 + i, output_tokens: 50 } });
          tracked++;
        }
        await sleep(100);
      }
    });

    await sleep(5000);
    const beforeOutage = calls + tracked;
    await collector.stop();
    await sleep(OUTAGE_MS);
    spooledDuringOutage = (await readdir(spool)).filter((n) => n.includes(".ndjson")).length;
    await collector.restart();
    await sleep(10_000);
    stop = true;
    await traffic;
    await sleep(50);
    await ct.flush();

    const expected = calls + tracked;
    await expect
      .poll(async () => (await collector.events({ feature: "outage-traffic" })).length, { timeout: 30_000, interval: 500 })
      .toBe(expected);
    const rows = await collector.events({ feature: "outage-traffic" });
    expect(new Set(rows.map((r) => r.id)).size).toBe(expected);
    // Traffic really went on during the outage, and waited on disk.
    expect(expected - beforeOutage).toBeGreaterThan(1000);
    expect(spooledDuringOutage).toBeGreaterThan(10);
    expect(ct.stats).toMatchObject({ sent: expected, dropped: 0, duplicates: 0 });
    expect(ct.stats.spooled).toBeGreaterThan(1000);
    expect(errors.some((m) => m.includes("could not reach the collector"))).toBe(true);
    expect(rows.filter((r) => r.model === "gpt-4o-2024-08-06")).toHaveLength(calls);
    await ct.shutdown();
  },
  OUTAGE_MS + 90_000,
);
