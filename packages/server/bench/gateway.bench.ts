/**
 * What the gateway adds to a call, over HTTP on 127.0.0.1: the built server as its own process
 * in front of a fake upstream that answers at once (so the figures are the gateway's own cost),
 * against the same upstream called directly. Realistic requests: 2–8 KB prompts, thousands of
 * users and customers in the attribution headers, tags; plain answers and 40-chunk streams,
 * each with raw usage the gateway reads and prices. Every call is recorded in the ledger.
 *
 * Run: npm run bench -w packages/server (builds first: `npm run build`).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Figures } from "./figures.js";
import { percentile } from "./http-load.js";
import { ServerProcess, killAllServers } from "./server-process.js";

const ADMIN = `bench-gateway-admin-${"g".repeat(24)}`;
const REQUESTS = Number(process.env.GATEWAY_BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = 32;
const STREAM_CHUNKS = 40;

const CHAT = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1764585600,
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "Your refund was issued.", refusal: null }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 1024 } },
  service_tier: "default",
});

function streamBody(withUsage: boolean): string {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "gpt-4o-2024-08-06", choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage && { usage: null }) })}\n\n`;
  let body = chunk({ role: "assistant", content: "" }, null);
  for (let i = 0; i < STREAM_CHUNKS; i++) body += chunk({ content: ` word${i}` }, null);
  body += chunk({}, "stop");
  if (withUsage)
    body += `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "gpt-4o-2024-08-06", choices: [], usage: { prompt_tokens: 2048, completion_tokens: 41, total_tokens: 2089 } })}\n\n`;
  return `${body}data: [DONE]\n\n`;
}
const STREAM_WITH_USAGE = streamBody(true);
const STREAM_PLAIN = streamBody(false);

/** The fake upstream: answers at once, streams in one write. */
function startUpstream(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { stream?: boolean; stream_options?: { include_usage?: boolean } };
      if (body.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(body.stream_options?.include_usage ? STREAM_WITH_USAGE : STREAM_PLAIN);
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(CHAT);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }),
    ),
  );
}

const WORDS = "the order refund invoice customer shipment warehouse delivery policy account billing question answer".split(" ");
function prompt(i: number): string {
  const words = 300 + ((i * 7919) % 900); // 2–8 KB
  let text = "";
  for (let w = 0; w < words; w++) text += `${WORDS[(i + w * 31) % WORDS.length]} `;
  return text;
}

async function run(
  url: string,
  stream: boolean,
  headers: (i: number) => Record<string, string>,
): Promise<{ latencies: number[]; seconds: number; failures: number }> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(`${url}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-bench", ...headers(i) },
          body: JSON.stringify({ model: "gpt-4o", ...(stream && { stream: true }), messages: [{ role: "user", content: prompt(i) }] }),
        });
        await res.arrayBuffer();
        if (res.status !== 200) failures++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000, failures };
}

async function main(): Promise<void> {
  const figures = new Figures();
  const upstream = await startUpstream();
  const server = await ServerProcess.start(ADMIN, `gateway:\n  upstreams:\n    openai: ${upstream.url}/v1\n`);
  const attribution = (i: number) => ({
    "x-costtrail-key": ADMIN,
    "x-costtrail-user": `u_${(i * 2654435761) % 5000}`,
    "x-costtrail-customer": `cust_${i % 50}`,
    "x-costtrail-feature": ["draft-reply", "search", "summarize", "triage"][i % 4] as string,
    "x-costtrail-tags": `queue=${["billing", "shipping", "returns"][i % 3]},tier=${i % 5 === 0 ? "pro" : "free"}`,
  });
  try {
    for (const stream of [false, true]) {
      figures.heading(
        `Gateway, ${stream ? `streamed (${STREAM_CHUNKS} chunks)` : "plain"} chat completions, ${REQUESTS.toLocaleString("en-US")} requests, ${CONCURRENCY} at a time`,
        stream ? "stream" : "plain",
      );
      const direct = await run(`${upstream.url}/v1`, stream, () => ({}));
      await server.resetPeak();
      const cpu0 = await server.cpuSeconds();
      const via = await run(`${server.url}/openai/v1`, stream, attribution);
      const cpu = (await server.cpuSeconds()) - cpu0;
      const mem = await server.memory();
      figures.add("direct p50", percentile(direct.latencies, 0.5), "ms", undefined, "", 2);
      figures.add("through the gateway p50", percentile(via.latencies, 0.5), "ms", undefined, "", 2);
      figures.add(
        "added at p50",
        percentile(via.latencies, 0.5) - percentile(direct.latencies, 0.5),
        "ms",
        { kind: "max", value: 2 },
        "",
        2,
      );
      figures.add(
        "added at p99",
        percentile(via.latencies, 0.99) - percentile(direct.latencies, 0.99),
        "ms",
        { kind: "max", value: 10 },
        "",
        2,
      );
      figures.add(
        "throughput through the gateway",
        REQUESTS / via.seconds,
        "requests/s",
        undefined,
        `(direct ${Math.round(REQUESTS / direct.seconds).toLocaleString("en-US")}/s)`,
      );
      figures.add(
        "gateway CPU per request",
        (cpu / REQUESTS) * 1e6,
        "µs",
        undefined,
        "(server process, all threads: forward, read usage, price, record)",
      );
      figures.add("server RSS peak", mem.hwmMiB, "MiB");
      figures.note(`failed requests: ${via.failures + direct.failures}`);
    }
    const res = await fetch(`${server.url}/v1/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ metrics: ["requests", "cost_usd"] }),
    });
    const rows = ((await res.json()) as { rows: Array<{ requests: number; cost_usd: string }> }).rows;
    figures.note(
      `recorded: ${rows[0]?.requests.toLocaleString("en-US")} calls of ${(2 * REQUESTS).toLocaleString("en-US")}, $${rows[0]?.cost_usd}`,
    );
    figures.printSummary();
  } finally {
    await server.stop(false);
    upstream.close();
  }
}

main().catch((err) => {
  killAllServers();
  console.error(err);
  process.exitCode = 1;
});
