import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Costtrail } from "../src/index.js";
import { FakeProvider } from "./fake-provider.js";

let fake: FakeProvider;
// A collector that takes every connection and never answers.
const stalled = createServer(() => {});

beforeAll(async () => {
  fake = await FakeProvider.start();
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await fake.close();
  stalled.closeAllConnections();
  await new Promise((r) => stalled.close(r));
});

async function timeCalls(client: OpenAI, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    times.push(performance.now() - t0);
  }
  return times;
}

it("does not delay calls while the collector stalls, nor throw when its queue overflows", async () => {
  const errors: string[] = [];
  const ct = new Costtrail({
    endpoint: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`,
    apiKey: "ct_test",
    spoolDir: false,
    maxBatchSize: 10,
    maxQueueSize: 20,
    flushIntervalMs: 10,
    onError: (e) => errors.push(e.message),
  });
  const options = { apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 };
  const plain = await timeCalls(new OpenAI(options), 60);
  const wrapped = await timeCalls(ct.wrap(new OpenAI(options)), 60);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  // The export is stuck in flight the whole time, the queue overflows: the calls do not notice.
  expect(median(wrapped)).toBeLessThan(median(plain) + 5);
  expect(Math.max(...wrapped)).toBeLessThan(250);
  expect(ct.stats.dropped).toBeGreaterThan(0);
  expect(errors.some((m) => m.includes("telemetry queue full"))).toBe(true);
});
