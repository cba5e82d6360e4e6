// Scratch: the reprice phase over HTTP on a copy of the 9.5M realistic ledger. Not committed.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Figures } from "./figures.js";
import { Target, sleep } from "./http-load.js";
import { repricePhase } from "./reprice-phase.js";
const KEY = `bench-admin-${"k".repeat(32)}`;
const dir = process.argv[2] as string;
const { writeFileSync } = await import("node:fs");
const CONFIG = "version: 1\nserver:\n  memory_limit: 1GiB\n";
writeFileSync(`${dir}/costtrail.yaml`, CONFIG);
const child = spawn(
  process.execPath,
  [
    "/work/main/packages/cli/dist/bin.js",
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    dir,
    "--quiet",
    "--config",
    `${dir}/costtrail.yaml`,
  ],
  {
    env: { ...process.env, COSTTRAIL_ADMIN_KEY: KEY },
    stdio: ["ignore", "ignore", "pipe"],
  },
);
let err = "";
child.stderr?.on("data", (d: Buffer) => {
  err += d.toString();
});
let url = "";
while (!url) {
  const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
  if (m) url = m[1] as string;
  else await sleep(100);
}
const mem = () => {
  const s = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const g = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1]) / 1024;
  return { rss: g("VmRSS"), hwm: g("VmHWM") };
};
console.log("listening", url, mem());
// let the left live segment compact
await sleep(60_000);
console.log("after 60 s", mem());
const target = new Target(url, KEY);
let peak = 0;
const timer = setInterval(() => {
  peak = Math.max(peak, mem().rss);
}, 250);
const figures = new Figures();
const t0 = Date.now();
const server = {
  configured: CONFIG,
  async reconfigure(c: string) {
    writeFileSync(`${dir}/costtrail.yaml`, c);
    process.kill(child.pid as number, "SIGHUP");
    await sleep(2000);
  },
};
await repricePhase(server as never, target, figures, 3);
console.log("done in", ((Date.now() - t0) / 1000).toFixed(0), "s; sampled RSS peak", peak.toFixed(0), mem());
clearInterval(timer);
target.close();
child.kill("SIGTERM");
