/**
 * The dashboard bench (`npm run bench -w packages/web`): what a user waits for in the browser.
 * A `costtrail serve` process (the built CLI) is filled with BENCH_EVENTS realistic events
 * (default 10M: 5,000 users, 50 customers, a month up to now, raw provider usage and tags)
 * through HTTP, left to compact, and then Debian's Chromium opens each page, cold (a new
 * browser context each time) and several times over. Prints each figure beside its goal, the
 * JavaScript the page loads (gzipped) and the server's RSS; asserts nothing.
 *
 * Knobs: BENCH_EVENTS, BENCH_SEED, BENCH_RUNS (loads per page, default 5), BENCH_KEEP=1 (keep
 * the data directory, whose path is printed), BENCH_DATA_DIR (reuse a kept one: no filling).
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { Figures } from "../../server/bench/figures.js";
import { BatchSource, Target, countEvents, ingestClosedLoop, percentile } from "../../server/bench/http-load.js";
import { realisticEvents } from "../../server/bench/realistic-events.js";
import { ServerProcess, killAllServers } from "../../server/bench/server-process.js";
import { launch } from "../test/browser.js";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const SEED = Number(process.env.BENCH_SEED ?? 42);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const KEEP = process.env.BENCH_KEEP === "1" || process.env.BENCH_DATA_DIR !== undefined;
/** A data directory to reuse (its ledger filled by an earlier run with BENCH_KEEP=1); it is kept. */
const DATA_DIR = process.env.BENCH_DATA_DIR;
const ADMIN_KEY = `bench-admin-${"w".repeat(32)}`;
const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const figures = new Figures();

/** The pages, each with what must be on screen for it to be of use: its numbers and its chart or table. */
const PAGES: ReadonlyArray<{ name: string; path: string; ready: readonly string[] }> = [
  { name: "overview", path: "/", ready: ["[data-stat=month] .stat-value span", "[data-chart] canvas", "[data-top=user_id] tr"] },
  {
    name: "explorer, 30 days by feature and model",
    path: "/explore?range=30d&group_by=feature,model",
    ready: ["[data-chart] canvas", "[data-testid=explorer-table] tbody tr"],
  },
  {
    name: "explorer, 30 days by user",
    path: "/explore?range=30d&group_by=user_id",
    ready: ["[data-chart] canvas", "[data-testid=explorer-table] tbody tr"],
  },
  { name: "agent runs", path: "/runs?range=30d", ready: ["[data-testid=runs-spread] tbody tr", "[data-testid=runs-top] tbody tr"] },
  { name: "events", path: "/events", ready: ["[data-testid=events-table] tbody tr"] },
  { name: "prices", path: "/prices", ready: ["[data-section=models-in-use] tbody tr"] },
];

async function bundleBytes(): Promise<{ raw: number; gzip: number; files: number }> {
  let raw = 0;
  let gzip = 0;
  let files = 0;
  for (const name of await readdir(join(DIST, "assets"))) {
    if (!name.endsWith(".js") && !name.endsWith(".css")) continue;
    const bytes = await readFile(join(DIST, "assets", name));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
    files++;
  }
  return { raw, gzip, files };
}

async function loadTime(page: Page, url: string, ready: readonly string[]): Promise<number> {
  const t0 = performance.now();
  await page.goto(url);
  await Promise.all(ready.map((s) => page.locator(s).first().waitFor({ timeout: 60_000 })));
  return performance.now() - t0;
}

/** Fills the ledger with EVENTS realistic events over HTTP and waits for compaction to settle. */
async function fill(server: ServerProcess, target: Target): Promise<void> {
  figures.heading(`Filling the ledger with ${EVENTS.toLocaleString("en-US")} realistic events over HTTP`, "ingest");
  const source = new BatchSource(
    realisticEvents({ seed: SEED, events: EVENTS, clock: "month", endMs: Date.now(), idPrefix: "w" })[Symbol.iterator](),
    1000,
  );
  const t0 = performance.now();
  let next = 1_000_000;
  const tally = await ingestClosedLoop(target, source, 4, Number.POSITIVE_INFINITY, (t) => {
    if (t.accepted >= next) {
      console.log(`  ${t.accepted.toLocaleString("en-US")} events, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      next += 1_000_000;
    }
  });
  figures.add("ingest rate while filling", tally.accepted / ((performance.now() - t0) / 1000), "events/s");
  const settled = await server.settle(15 * 60_000);
  figures.note(
    `compaction settled in ${settled.seconds.toFixed(0)} s (${settled.settled ? "settled" : "NOT settled"}); ${await countEvents(target)} events in ${server.dataDir}`,
  );
}

async function main(): Promise<void> {
  const bundle = await bundleBytes();
  figures.heading("Dashboard bundle (what the browser downloads)", "bundle");
  figures.add(
    "JavaScript and CSS, gzipped",
    bundle.gzip / 1024,
    "KiB",
    { kind: "max", value: 500 },
    `(${(bundle.raw / 1024).toFixed(0)} KiB raw, ${bundle.files} files)`,
  );

  const server = await ServerProcess.start(ADMIN_KEY, null, DATA_DIR);
  const target = new Target(server.url, ADMIN_KEY);
  try {
    const already = DATA_DIR ? await countEvents(target) : 0;
    if (already > 0) figures.note(`reusing ${DATA_DIR}: ${already.toLocaleString("en-US")} events already in its ledger`);
    else await fill(server, target);
    figures.add("server RSS, idle before the browser", (await server.memory()).rssMiB, "MiB");

    const browser = await launch();
    try {
      figures.heading(
        `Page loads on ${EVENTS.toLocaleString("en-US")} events: navigation to the page's numbers and chart on screen, cold context, ${RUNS} runs`,
        "pages",
      );
      await server.resetPeak();
      for (const p of PAGES) {
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC" });
          const page = await context.newPage();
          // Signing in is not part of the page's load: done first, in the same context.
          await page.goto(`${server.url}/sign-in`);
          await page.getByLabel("API key").fill(ADMIN_KEY);
          await page.getByRole("button", { name: "Sign in" }).click();
          await page.getByTestId("who").waitFor({ timeout: 60_000 });
          await page.goto("about:blank");
          times.push(await loadTime(page, `${server.url}${p.path}`, p.ready));
          await context.close();
        }
        times.sort((a, b) => a - b);
        const goal = p.name === "overview" ? ({ kind: "max", value: 1500 } as const) : undefined;
        figures.add(
          `${p.name}: median`,
          percentile(times, 0.5),
          "ms",
          goal,
          `(fastest ${times[0]?.toFixed(0)} ms, slowest ${times.at(-1)?.toFixed(0)} ms)`,
        );
      }
      const mem = await server.memory();
      figures.add("server RSS peak while pages loaded", mem.hwmMiB, "MiB");
    } finally {
      await browser.close();
    }
  } finally {
    target.close();
    await server.stop(KEEP);
  }
  figures.printSummary();
}

const timer = setTimeout(() => {
  console.error("dashboard bench: out of time (90 minutes); stopping");
  killAllServers();
  process.exit(1);
}, 90 * 60_000);
timer.unref();
main().catch((e) => {
  console.error(e);
  killAllServers();
  process.exit(1);
});
