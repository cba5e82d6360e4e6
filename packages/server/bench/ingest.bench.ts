/**
 * Ingest throughput over loopback HTTP with durable acknowledgements, at batch sizes 1, 100
 * and 1000 from several concurrent clients, plus the acknowledgement latency of 500-event
 * batches and the server's RSS. The server is a separate `costtrail serve` process (built
 * CLI) so client and server do not share an event loop; on this 2-core machine they still
 * share the cores. Prints figures beside the goals; asserts nothing.
 */
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url));
const ADMIN = `ct_${"B".repeat(40)}`;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

const dir = await mkdtemp(join(tmpdir(), "ct-ingest-bench-"));
const child = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROFILE] : []),
    BIN,
    "serve",
    "--port",
    "0",
    "--data-dir",
    dir,
    "--quiet",
  ],
  {
    env: { ...process.env, COSTTRAIL_ADMIN_KEY: ADMIN },
    stdio: ["ignore", "ignore", "pipe"],
  },
);
const url = await new Promise<string>((resolve, reject) => {
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
    if (m) resolve(m[1] as string);
  });
  child.on("exit", () => reject(new Error(`server exited: ${err}`)));
  setTimeout(() => reject(new Error("server did not start")), 20_000);
});

async function rssMiB(): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

let seq = 0;
const T0 = Date.now();
function body(size: number): string {
  const parts: string[] = [];
  for (let i = 0; i < size; i++) {
    const n = seq++;
    parts.push(
      `{"id":"b${n}","timestamp":"${new Date(T0 + n).toISOString()}","project":"p${n % 7}","environment":"prod","provider":"openai","model":"gpt-4o-2024-08-06","api":"openai.chat",` +
        `"raw_usage":{"prompt_tokens":${1000 + (n % 500)},"completion_tokens":${200 + (n % 90)},"prompt_tokens_details":{"cached_tokens":${n % 2 ? 512 : 0}}},` +
        `"user_id":"u${n % 300}","customer_id":"c${n % 40}","feature":"f${n % 6}","agent_run_id":"r${n % 5000}","tags":{"queue":"q${n % 3}"},"latency_ms":${300 + (n % 700)}}`,
    );
  }
  return `[${parts.join(",")}]`;
}

// node:http with keep-alive costs the client a fraction of what fetch does per request, so the
// single-event phases measure the server rather than the load generator.
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const target = new URL(url);
function post(payload: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: "/v1/events",
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Request bodies are built before a phase starts, so the clients spend the phase sending. */
const MAX_EVENTS_PER_PHASE = Number(process.env.BENCH_MAX_EVENTS ?? 250_000);

/**
 * wrk (a C load generator; `apt-get install wrk`) when installed: a Node client spends about
 * half a millisecond of CPU per request and, on two cores, caps what it can measure.
 */
const WRK = process.env.BENCH_CLIENT !== "node" && spawnSync("wrk", ["--version"]).status !== null ? "wrk" : null;
const WRK_SCRIPT = fileURLToPath(new URL("./wrk/post-events.lua", import.meta.url));
let wrkPhase = 0;

function wrkMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

function wrkPhaseRun(batch: number, clients: number, seconds: number) {
  const out = spawnSync(
    "wrk",
    [
      "-t1",
      `-c${clients}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      WRK_SCRIPT,
      url,
      "--",
      String(batch),
      ADMIN,
      `p${process.pid}_${wrkPhase++}_`,
    ],
    { encoding: "utf8" },
  ).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  return {
    rate: rps * batch,
    p50: wrkMs(/50%\s+(\S+)/.exec(out)?.[1] ?? ""),
    p99: wrkMs(/99%\s+(\S+)/.exec(out)?.[1] ?? ""),
    requests: requests - non2xx,
    shed: non2xx,
  };
}

async function phase(batch: number, clients: number, seconds: number) {
  if (WRK) return wrkPhaseRun(batch, clients, seconds);
  const latencies: number[] = [];
  let events = 0;
  let shed = 0;
  const bodies = Array.from({ length: Math.max(clients, Math.floor(MAX_EVENTS_PER_PHASE / batch)) }, () => body(batch));
  let next = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      // Bounded by time and by the prepared bodies, whichever runs out first.
      while (performance.now() < end && next < bodies.length) {
        const payload = bodies[next++] as string;
        const t = performance.now();
        const res = await post(payload);
        if (res.status === 200) {
          latencies.push(performance.now() - t);
          events += batch;
        } else if (res.status === 503) shed++;
        else throw new Error(`unexpected ${res.status}`);
      }
    }),
  );
  const elapsed = Math.min(seconds, (performance.now() - (end - seconds * 1000)) / 1000);
  latencies.sort((a, b) => a - b);
  return { rate: events / elapsed, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), requests: latencies.length, shed };
}

console.log(
  `costtrail ingest bench — ${SECONDS} s per phase, loopback HTTP, durable (committed) acks, node ${process.version}, client: ${WRK ?? "node:http (install wrk for figures the client does not cap)"}\n`,
);
const goals: Record<number, number> = { 1: 5_000, 1000: 100_000 };
const PHASES = process.env.BENCH_PHASES
  ? (JSON.parse(process.env.BENCH_PHASES) as Array<[number, number]>)
  : ([
      // With durable acks, throughput is concurrency ÷ ack latency: single-event clients need many in flight.
      [1, 256],
      [100, 16],
      [1000, 8],
    ] as const);
for (const [batch, clients] of PHASES) {
  await phase(batch, clients, 1); // warm-up
  const r = await phase(batch, clients, SECONDS);
  const goal = goals[batch];
  console.log(
    `batch ${String(batch).padStart(4)} × ${String(clients).padStart(2)} clients: ${Math.round(r.rate).toLocaleString("en-US").padStart(9)} events/s` +
      `  ack p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms  (${r.requests} requests, ${r.shed} shed with 503)` +
      (goal ? `  goal ≥ ${goal.toLocaleString("en-US")}/s: ${(r.rate / goal).toFixed(2)}× goal` : ""),
  );
}
for (const clients of process.env.BENCH_PHASES ? [] : [1, 4]) {
  const r = await phase(500, clients, SECONDS);
  console.log(
    `batch  500 × ${String(clients).padStart(2)} clients: ack p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms  (goal p99 ≤ 25 ms: ${(r.p99 / 25).toFixed(2)}× goal; ${Math.round(r.rate).toLocaleString("en-US")} events/s)`,
  );
}
console.log(`\nserver RSS at the end: ${(await rssMiB()).toFixed(0)} MiB`);
child.kill("SIGTERM");
await new Promise((r) => child.on("exit", r));
await rm(dir, { recursive: true, force: true });
