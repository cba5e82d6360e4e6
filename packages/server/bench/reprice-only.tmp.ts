// Scratch: ingest N realistic events, then the reprice phase. Not committed.
import { Figures } from "./figures.js";
import { BatchSource, Target, ingestClosedLoop } from "./http-load.js";
import { realisticEvents } from "./realistic-events.js";
import { repricePhase } from "./reprice-phase.js";
import { ServerProcess } from "./server-process.js";
const N = Number(process.env.N ?? 1_000_000);
const KEY = `bench-admin-${"k".repeat(32)}`;
const server = await ServerProcess.start(KEY, `version: 1\nserver:\n  memory_limit: 1GiB\n`);
const target = new Target(server.url, KEY);
const source = new BatchSource(realisticEvents({ seed: 42, events: N, clock: "month", endMs: Date.now(), idPrefix: "x" }), 1000);
const t0 = performance.now();
const tally = await ingestClosedLoop(target, source, 4, t0 + 3_600_000, () => {});
console.log(`ingested ${tally.accepted} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
await server.settle(300_000);
await new Promise((r) => setTimeout(r, 5000));
console.log("idle before reprice: rss", (await server.memory()).rssMiB.toFixed(0));
let peak = 0;
const timer = setInterval(
  () =>
    void server.memory().then((m) => {
      peak = Math.max(peak, m.rssMiB);
    }),
  250,
);
await server.resetPeak();
const figures = new Figures();
const orig = target.post.bind(target);
let reprPeak = 0;
(target as any).post = async (path: string, body: string) => {
  if (path === "/v1/query" && reprPeak === 0) {
    const m = await server.memory();
    reprPeak = m.hwmMiB;
    console.log("before first current query: hwm", m.hwmMiB.toFixed(0), "rss", m.rssMiB.toFixed(0), "sampled", peak.toFixed(0));
  }
  return orig(path, body);
};
await repricePhase(server, target, figures, 3);
const m = await server.memory();
console.log("reprice RSS sampled peak", peak.toFixed(0), "hwm", m.hwmMiB.toFixed(0), "now", m.rssMiB.toFixed(0));
clearInterval(timer);
target.close();
await server.stop(false);
