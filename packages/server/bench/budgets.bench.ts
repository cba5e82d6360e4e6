/**
 * What budget checks add to a call through the gateway, and how far concurrent calls can pass
 * a hard cap. The built server runs as its own process in front of a fake upstream that answers
 * at once, three ways: without budgets, with budgets on in-process counters, and with the same
 * budgets on Redis (a redis-server this bench starts on 127.0.0.1 and stops by its pid).
 * Each call falls in four budgets: one per customer of 500 (each_value_of), one per feature,
 * one per team, and a company-wide one, so a check reserves in four counters at once.
 *
 * Run: npm run bench:budgets -w packages/server (after `npm run build`).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { REDIS_AVAILABLE, startRedis } from "../test/redis-server.js";
import { Figures } from "./figures.js";
import { percentile } from "./http-load.js";
import { ServerProcess, killAllServers } from "./server-process.js";

const ADMIN = `bench-budgets-admin-${"b".repeat(24)}`;
const REQUESTS = Number(process.env.BUDGET_BENCH_REQUESTS ?? 10_000);
const CONCURRENCY = 32;
const CHAT = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1764585600,
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "Your refund was issued." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 1024 } },
});

/** The fake upstream; `hold()` keeps answers back until released, so calls pile up in flight. */
function startUpstream(): Promise<{ url: string; hold: () => () => void; received: () => number; close: () => void }> {
  let gate: Promise<void> | null = null;
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", async () => {
      received++;
      if (gate) await gate;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(CHAT);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        hold() {
          let release = () => {};
          gate = new Promise((r) => {
            release = r;
          });
          return () => {
            gate = null;
            release();
          };
        },
        received: () => received,
        close: () => server.close(),
      }),
    ),
  );
}

const BUDGETS = [
  "budgets:",
  '  - { name: per-customer, each_value_of: customer_id, period: day, limit_usd: "100000", actions: [{ at_percent: 80, action: alert }, { at_percent: 100, action: block }] }',
  '  - { name: per-feature, each_value_of: feature, period: month, limit_usd: "1000000", actions: [{ at_percent: 90, action: downgrade, model: gpt-4o-mini }, { at_percent: 100, action: block }] }',
  '  - { name: support-team, match: { team: support }, period: week, time_zone: Europe/Berlin, limit_usd: "1000000", actions: [{ at_percent: 100, action: block }] }',
  '  - { name: company, period: day, rolling: true, limit_usd: "10000000", actions: [{ at_percent: 100, action: require_override }] }',
].join("\n");

function config(upstream: string, extra = ""): string {
  return `gateway:\n  upstreams:\n    openai: ${upstream}/v1\n${extra}`;
}

const WORDS = "the order refund invoice customer shipment warehouse delivery policy account billing".split(" ");
function body(i: number): string {
  let text = "";
  for (let w = 0; w < 300 + (i % 500); w++) text += `${WORDS[(i + w * 31) % WORDS.length]} `;
  return JSON.stringify({ model: "gpt-4o", max_tokens: 500, messages: [{ role: "user", content: text }] });
}

const attribution = (i: number) => ({
  "x-costtrail-key": ADMIN,
  "x-costtrail-user": `u_${(i * 2654435761) % 5000}`,
  "x-costtrail-customer": `cust_${i % 500}`,
  "x-costtrail-team": i % 3 === 0 ? "support" : "growth",
  "x-costtrail-feature": ["draft-reply", "search", "summarize", "triage"][i % 4] as string,
});

async function run(
  url: string,
  concurrency: number,
  requests: number,
): Promise<{ latencies: number[]; seconds: number; failures: number }> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(`${url}/openai/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-bench", ...attribution(i) },
          body: body(i),
        });
        await res.arrayBuffer();
        if (res.status !== 200) failures++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000, failures };
}

/**
 * CPU per call under load (32 at a time, the server busy), and latency one call at a time, so
 * that the added milliseconds are the check's own and not the queue of a saturated machine.
 */
async function measure(server: ServerProcess): Promise<{ p50: number; p99: number; cpuUs: number; failures: number }> {
  await run(server.url, CONCURRENCY, Math.min(REQUESTS, 2000)); // warm-up: tokenizers, connections, JIT
  const cpu0 = await server.cpuSeconds();
  const loaded = await run(server.url, CONCURRENCY, REQUESTS);
  const cpu = (await server.cpuSeconds()) - cpu0;
  const serial = await run(server.url, 1, Math.min(REQUESTS, 3000));
  return {
    p50: percentile(serial.latencies, 0.5),
    p99: percentile(serial.latencies, 0.99),
    cpuUs: (cpu / REQUESTS) * 1e6,
    failures: loaded.failures + serial.failures,
  };
}

/** 200 calls at once at a budget with room for 50 reservations; answers held until all are admitted or refused. */
async function overshoot(
  upstream: Awaited<ReturnType<typeof startUpstream>>,
  servers: ServerProcess[],
): Promise<{ admitted: number; refused: number; spent: string; limit: string }> {
  const release = upstream.hold();
  const before = upstream.received();
  let refused = 0;
  const payload = JSON.stringify({ model: "gpt-4o", max_tokens: 500, messages: [{ role: "user", content: "Where is my refund?" }] });
  const all = Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const res = await fetch(`${(servers[i % servers.length] as ServerProcess).url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer sk-bench",
          "x-costtrail-key": ADMIN,
          "x-costtrail-feature": "burst",
        },
        body: payload,
      });
      await res.arrayBuffer();
      if (res.status === 429) refused++;
      return res.status;
    }),
  );
  for (let i = 0; i < 2000 && upstream.received() - before + refused < 200; i++) await new Promise((r) => setTimeout(r, 5));
  release();
  const statuses = await all;
  await new Promise((r) => setTimeout(r, 500));
  const res = await fetch(`${servers[0]?.url}/v1/budgets`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const b = ((await res.json()) as { budgets: Array<{ name: string; spent_usd: string; limit_usd: string }> }).budgets.find(
    (x) => x.name === "burst",
  );
  return { admitted: statuses.filter((s) => s === 200).length, refused, spent: b?.spent_usd ?? "?", limit: b?.limit_usd ?? "?" };
}

/** The burst budget: the gateway's estimate of the burst's call is $0.00504; room for 50, not 51. */
const BURST =
  '  - { name: burst, match: { feature: burst }, period: day, limit_usd: "0.2545", actions: [{ at_percent: 100, action: block }] }\n';

async function main(): Promise<void> {
  const figures = new Figures();
  const upstream = await startUpstream();
  const redis = REDIS_AVAILABLE ? await startRedis() : null;
  const servers: ServerProcess[] = [];
  try {
    figures.heading(
      `Budget checks on the gateway: CPU over ${REQUESTS.toLocaleString("en-US")} plain calls ${CONCURRENCY} at a time, latency one at a time; 4 budgets per call`,
      "budgets",
    );
    const plain = await ServerProcess.start(ADMIN, config(upstream.url));
    servers.push(plain);
    const base = await measure(plain);
    await plain.stop(false);
    const memory = await ServerProcess.start(ADMIN, config(upstream.url, `${BUDGETS}\n${BURST}`));
    servers.push(memory);
    const mem = await measure(memory);
    figures.add(
      "without budgets: p50 / p99",
      base.p50,
      "ms",
      undefined,
      `/ ${base.p99.toFixed(2)} ms, ${base.cpuUs.toFixed(0)} µs server CPU per call`,
      2,
    );
    figures.add(
      "in-process counters: added at p50",
      mem.p50 - base.p50,
      "ms",
      { kind: "max", value: 1 },
      `(p50 ${mem.p50.toFixed(2)} ms)`,
      2,
    );
    figures.add("in-process counters: added at p99", mem.p99 - base.p99, "ms", undefined, `(p99 ${mem.p99.toFixed(2)} ms)`, 2);
    figures.add(
      "in-process counters: added server CPU per call",
      mem.cpuUs - base.cpuUs,
      "µs",
      { kind: "max", value: 200 },
      "(estimate, check, reserve, settle)",
    );
    const o1 = await overshoot(upstream, [memory]);
    figures.note(
      `one server, in-process counters: ${o1.admitted} of 200 admitted, ${o1.refused} refused; spent $${o1.spent} of $${o1.limit}`,
    );
    await memory.stop(false);
    if (redis) {
      const redisConfig = (prefix: string) =>
        config(upstream.url, `counters:\n  store: redis\n  redis_url: ${redis.url}\n  key_prefix: "${prefix}"\n${BUDGETS}\n${BURST}`);
      const shared = await ServerProcess.start(ADMIN, redisConfig("bench:"));
      servers.push(shared);
      const red = await measure(shared);
      figures.add("Redis counters: added at p50", red.p50 - base.p50, "ms", { kind: "max", value: 1 }, `(p50 ${red.p50.toFixed(2)} ms)`, 2);
      figures.add("Redis counters: added at p99", red.p99 - base.p99, "ms", undefined, `(p99 ${red.p99.toFixed(2)} ms)`, 2);
      figures.add(
        "Redis counters: added server CPU per call",
        red.cpuUs - base.cpuUs,
        "µs",
        undefined,
        "(one script to check and reserve, one to settle)",
      );
      await shared.stop(false);
      const a = await ServerProcess.start(ADMIN, redisConfig("burst:"));
      const b = await ServerProcess.start(ADMIN, redisConfig("burst:"));
      servers.push(a, b);
      const o2 = await overshoot(upstream, [a, b]);
      figures.note(`two servers sharing Redis: ${o2.admitted} of 200 admitted, ${o2.refused} refused; spent $${o2.spent} of $${o2.limit}`);
      await a.stop(false);
      await b.stop(false);
    } else {
      figures.note("redis-server is not installed: the Redis figures are skipped (apt-get install redis-server)");
    }
    figures.note(
      "Overshoot bound: reservations are taken only while spent + reserved + estimate stays at or under the cap, so the cap is passed by at most what admitted calls cost beyond their estimates; here each call's estimate ($0.00504) covers its cost ($0.00472), so the bound is $0.",
    );
    figures.printSummary();
  } finally {
    for (const s of servers) await s.stop(false).catch(() => {});
    await redis?.stop();
    upstream.close();
  }
}

main().catch((err) => {
  killAllServers();
  console.error(err);
  process.exitCode = 1;
});
