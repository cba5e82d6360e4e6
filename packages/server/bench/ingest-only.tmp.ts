// Scratch: sustained ingest of N realistic events into a fresh server; RSS timeline. Not committed.
import { BatchSource, Target, ingestClosedLoop } from "./http-load.js";
import { realisticEvents } from "./realistic-events.js";
import { ServerProcess } from "./server-process.js";
const N = Number(process.env.N ?? 10_000_000);
const KEY = `bench-admin-${"k".repeat(32)}`;
const server = await ServerProcess.start(KEY, `version: 1\nserver:\n  memory_limit: 1GiB\n`);
const target = new Target(server.url, KEY);
console.log("pid", server.pid, "env MALLOC_ARENA_MAX", process.env.MALLOC_ARENA_MAX ?? "-");
const source = new BatchSource(realisticEvents({ seed: 42, events: N, clock: "month", endMs: Date.now(), idPrefix: "x" }), 1000);
let peak = 0;
const t0 = performance.now();
const timer = setInterval(
  () =>
    void server.memory().then((m) => {
      peak = Math.max(peak, m.rssMiB);
    }),
  250,
);
let next = 1_000_000;
const tally = await ingestClosedLoop(target, source, 4, t0 + 3_600_000, (t) => {
  if (t.accepted < next) return;
  next += 1_000_000;
  const at = ((performance.now() - t0) / 1000).toFixed(0);
  void server
    .memory()
    .then((m) =>
      console.log(`${t.accepted} at ${at}s rss ${m.rssMiB.toFixed(0)} hwm ${m.hwmMiB.toFixed(0)} sampledPeak ${peak.toFixed(0)}`),
    );
});
const secs = (performance.now() - t0) / 1000;
console.log(`ingested ${tally.accepted} in ${secs.toFixed(0)} s = ${(tally.accepted / secs).toFixed(0)}/s`);
const s = await server.settle(300_000);
const m = await server.memory();
console.log("settled", JSON.stringify(s), "hwm", m.hwmMiB.toFixed(0), "sampledPeak", peak.toFixed(0));
await new Promise((r) => setTimeout(r, 10_000));
console.log("idle +10s rss", (await server.memory()).rssMiB.toFixed(0));
clearInterval(timer);
target.close();
await server.stop(false);
