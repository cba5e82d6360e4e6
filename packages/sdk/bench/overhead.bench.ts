/**
 * What the SDK costs an app: the same calls through a plain and a wrapped official OpenAI
 * client, against a fake provider on 127.0.0.1 that answers at once (so the difference is the
 * SDK's), each call under its own attribution (5,000 users, 50 customers, tags) with 2–8 KB
 * prompts, plain and streamed. The events go to a real collector process over HTTP; the bench
 * waits until every one is acknowledged and counts them in the ledger.
 *
 * Run: npm run bench -w packages/sdk (after `npm run build`).
 */
import OpenAI from "openai";
import { Figures } from "../../server/bench/figures.js";
import { percentile } from "../../server/bench/http-load.js";
import { ServerProcess, killAllServers } from "../../server/bench/server-process.js";
import { Costtrail } from "../src/index.js";
import { FakeProvider } from "../test/fake-provider.js";

const ADMIN = `bench-sdk-admin-${"s".repeat(24)}`;
const CALLS = Number(process.env.SDK_BENCH_CALLS ?? 10_000);
const CONCURRENCY = 16;
const WORDS = "the order refund invoice customer shipment warehouse delivery policy account billing".split(" ");

function prompt(i: number): string {
  let text = "";
  for (let w = 0; w < 300 + ((i * 7919) % 900); w++) text += `${WORDS[(i + w * 31) % WORDS.length]} `;
  return text;
}

async function run(
  client: OpenAI,
  ct: Costtrail | null,
  stream: boolean,
): Promise<{ latencies: number[]; cpuMs: number; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const one = async (i: number) => {
    const started = performance.now();
    const params = { model: "gpt-4o", messages: [{ role: "user" as const, content: prompt(i) }] };
    if (stream) {
      for await (const _ of await client.chat.completions.create({ ...params, stream: true })) {
      }
    } else await client.chat.completions.create(params);
    latencies.push(performance.now() - started);
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const i = next++;
        const attribution = {
          userId: `u_${(i * 2654435761) % 5000}`,
          customerId: `cust_${i % 50}`,
          feature: "draft-reply",
          tags: { queue: "billing" },
        };
        await (ct ? ct.withContext(attribution, () => one(i)) : one(i));
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { latencies: latencies.sort((a, b) => a - b), cpuMs: (cpu.user + cpu.system) / 1000, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const figures = new Figures();
  const fake = await FakeProvider.start();
  fake.eventDelayMs = 0;
  const collector = await ServerProcess.start(ADMIN, null);
  const ct = new Costtrail({ endpoint: collector.url, apiKey: ADMIN, project: "sdk-bench", spoolDir: false, maxQueueSize: 4 * CALLS });
  const options = { apiKey: "sk-bench", baseURL: `${fake.url}/v1`, maxRetries: 0 };
  try {
    for (const stream of [false, true]) {
      figures.heading(
        `SDK, ${stream ? "streamed" : "plain"} chat completions, ${CALLS.toLocaleString("en-US")} calls, ${CONCURRENCY} at a time`,
        stream ? "stream" : "plain",
      );
      const plain = await run(new OpenAI(options), null, stream);
      const sentBefore = ct.stats.sent;
      const wrapped = await run(ct.wrap(new OpenAI(options)), ct, stream);
      const flushStart = performance.now();
      await ct.flush();
      const flushMs = performance.now() - flushStart;
      figures.add("plain client p50", percentile(plain.latencies, 0.5), "ms", undefined, "", 2);
      figures.add("wrapped client p50", percentile(wrapped.latencies, 0.5), "ms", undefined, "", 2);
      figures.add(
        "added at p50",
        percentile(wrapped.latencies, 0.5) - percentile(plain.latencies, 0.5),
        "ms",
        { kind: "max", value: 1 },
        "",
        2,
      );
      figures.add(
        "added at p99",
        percentile(wrapped.latencies, 0.99) - percentile(plain.latencies, 0.99),
        "ms",
        { kind: "max", value: 2 },
        "",
        2,
      );
      figures.add(
        "app CPU added per call",
        ((wrapped.cpuMs - plain.cpuMs) / CALLS) * 1000,
        "µs",
        { kind: "max", value: 200 },
        "(measure, record, batch, gzip, send)",
      );
      figures.add(
        "events acknowledged by the collector",
        ct.stats.sent - sentBefore,
        "events",
        { kind: "min", value: CALLS },
        `(last batch flushed ${flushMs.toFixed(0)} ms after the last call)`,
      );
      figures.add("app RSS", process.memoryUsage().rss / 2 ** 20, "MiB");
    }
    const res = await fetch(`${collector.url}/v1/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ metrics: ["requests", "cost_usd"] }),
    });
    const rows = ((await res.json()) as { rows: Array<{ requests: number; cost_usd: string }> }).rows;
    figures.note(
      `in the ledger: ${rows[0]?.requests.toLocaleString("en-US")} calls of ${(2 * CALLS).toLocaleString("en-US")}, $${rows[0]?.cost_usd}; dropped ${ct.stats.dropped}`,
    );
    figures.printSummary();
  } finally {
    await ct.shutdown();
    await collector.stop(false);
    await fake.close();
  }
}

main().catch((err) => {
  killAllServers();
  console.error(err);
  process.exitCode = 1;
});
