import { BatchSource, Target, ingestClosedLoop } from "./http-load.js";
import { realisticEvents } from "./realistic-events.js";
import { ServerProcess } from "./server-process.js";
const N = Number(process.env.N ?? 10_000_000);
const KEY = `bench-admin-${"k".repeat(32)}`;
const server = await ServerProcess.start(KEY, null);
console.log("data", server.dataDir, "pid", server.pid);
const target = new Target(server.url, KEY);
const source = new BatchSource(realisticEvents({ seed: 42, events: N, clock: "month", endMs: Date.now(), idPrefix: "m" }), 1000);
const t0 = performance.now();
let next = 1_000_000;
const tally = await ingestClosedLoop(target, source, 4, t0 + 3_600_000, (t) => {
  if (t.accepted >= next) {
    next += 1_000_000;
    console.log(t.accepted, ((performance.now() - t0) / 1000).toFixed(0), "s");
  }
});
console.log("accepted", tally.accepted, ((performance.now() - t0) / 1000).toFixed(0), "s");
const s = await server.settle(600_000);
console.log("settled", s);
target.close();
await server.stop(true);
console.log("kept", server.dataDir);
