import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Costtrail, type CosttrailOptions, parseRetryAfter } from "../src/index.js";
import { CaptureServer } from "./capture-server.js";

let server: CaptureServer;
let spool: string;
const open: Costtrail[] = [];

beforeEach(async () => {
  server = await CaptureServer.start();
  spool = await mkdtemp(join(tmpdir(), "costtrail-sdk-spool-"));
});
afterEach(async () => {
  for (const ct of open.splice(0)) await ct.shutdown();
  await server.close();
  await rm(spool, { recursive: true, force: true });
});

function costtrail(options: Partial<CosttrailOptions> = {}): Costtrail {
  const ct = new Costtrail({ apiKey: "ct_test", project: "p", spoolDir: spool, ...options, endpoint: options.endpoint ?? server.url });
  open.push(ct);
  return ct;
}

const track = (ct: Costtrail, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) {
    const r = ct.track({ id: `evt_${i}`, provider: "openai", model: "gpt-4o", usage: { input_tokens: i } });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
  }
};

async function spooledFiles(): Promise<string[]> {
  return (await readdir(spool)).filter((n) => n.endsWith(".ndjson"));
}

describe("the exporter", () => {
  it("sends gzipped batches by size at once and the rest when the interval passes", async () => {
    const ct = costtrail({ maxBatchSize: 100, flushIntervalMs: 300 });
    const t0 = Date.now();
    track(ct, 250);
    await expect.poll(() => server.posts.length).toBe(2);
    expect(Date.now() - t0).toBeLessThan(250);
    await expect.poll(() => server.posts.length, { timeout: 2000 }).toBe(3);
    expect(server.posts.map((p) => p.events.length)).toEqual([100, 100, 50]);
    expect(server.posts.every((p) => p.headers["content-encoding"] === "gzip")).toBe(true);
    expect(server.posts[0]?.headers.authorization).toBe("Bearer ct_test");
    // In the order they were recorded.
    expect(server.posts.flatMap((p) => p.events.map((e) => e.id))).toEqual(Array.from({ length: 250 }, (_, i) => `evt_${i}`));
    // Gzip pays: 100 similar events in far fewer bytes than their JSON.
    expect(server.posts[0]?.bytes).toBeLessThan(JSON.stringify(server.posts[0]?.events).length / 4);
  });

  it("waits as long as the collector's Retry-After says before sending again", async () => {
    server.answer = (post, i) =>
      i === 0
        ? { status: 503, headers: { "retry-after": "1" }, body: { code: "CT_OVERLOADED", message: "writer behind" } }
        : { status: 200, body: { accepted: post.events.length, rejected: [], duplicates: [] } };
    const errors: string[] = [];
    const ct = costtrail({ flushIntervalMs: 50, initialBackoffMs: 10, onError: (e) => errors.push(e.message) });
    track(ct, 10);
    await expect.poll(() => server.posts.length, { timeout: 4000 }).toBe(2);
    const gap = (server.posts[1]?.at ?? 0) - (server.posts[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(1800);
    expect(errors[0]).toContain("503 CT_OVERLOADED: writer behind");
    expect(server.posts[1]?.events).toHaveLength(10);
    // The collector has the second post; the exporter counts it once the answer reaches it.
    await expect.poll(() => ct.stats.sent).toBe(10);
    expect(ct.stats).toMatchObject({ sent: 10, retries: 1, dropped: 0 });
  });

  it("backs off exponentially, with jitter, while the collector keeps failing", async () => {
    server.answer = () => ({ status: 500, body: { code: "CT_INTERNAL" } });
    const ct = costtrail({ flushIntervalMs: 20, initialBackoffMs: 80, maxBackoffMs: 700, onError: () => {} });
    track(ct, 1);
    await expect.poll(() => server.posts.length, { timeout: 5000 }).toBeGreaterThanOrEqual(6);
    const gaps = server.posts.slice(1, 6).map((p, i) => p.at - (server.posts[i]?.at ?? 0));
    // Each wait lies between half and all of min(80 ms × 2^n, 700 ms).
    const caps = [80, 160, 320, 640, 700];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual((caps[i] as number) / 2 - 15);
      expect(gap).toBeLessThanOrEqual((caps[i] as number) + 120);
    });
    // Every retry sent the same batch, once spooled, not a copy per attempt.
    expect(new Set(server.posts.map((p) => p.events[0]?.id))).toEqual(new Set(["evt_0"]));
  });

  it("keeps at most maxQueueSize events in memory without a spool, and counts what it drops", async () => {
    const endpoint = server.url;
    await server.close();
    const errors: string[] = [];
    const ct = costtrail({
      endpoint,
      spoolDir: false,
      maxQueueSize: 500,
      maxBatchSize: 100,
      flushIntervalMs: 60_000,
      onError: (e) => errors.push(e.message),
    });
    track(ct, 800);
    await new Promise((r) => setTimeout(r, 200));
    expect(ct.stats.dropped).toBeGreaterThanOrEqual(300);
    expect(errors.some((m) => m.includes("telemetry queue full (500 events)"))).toBe(true);
    server = await CaptureServer.start(); // for afterEach
  });

  it("sends a batch the collector finds too large again in halves", async () => {
    server.answer = (post) =>
      post.events.length > 60
        ? { status: 413, body: { code: "CT_PAYLOAD_TOO_LARGE", message: "too large" } }
        : { status: 200, body: { accepted: post.events.length, rejected: [], duplicates: [] } };
    const ct = costtrail({ maxBatchSize: 200, flushIntervalMs: 50, onError: () => {} });
    track(ct, 200);
    const ok = () => server.posts.filter((p) => p.events.length <= 60);
    await expect.poll(() => ok().reduce((n, p) => n + p.events.length, 0), { timeout: 3000 }).toBe(200);
    expect(ok().flatMap((p) => p.events.map((e) => e.id))).toEqual(Array.from({ length: 200 }, (_, i) => `evt_${i}`));
    expect(ct.stats.dropped).toBe(0);
  });

  it("drops and counts events the collector refuses as invalid, and keeps the rest", async () => {
    server.answer = (post) => ({
      status: 200,
      body: { accepted: post.events.length - 1, rejected: [{ index: 0, errors: [] }], duplicates: [] },
    });
    const errors: string[] = [];
    const ct = costtrail({ onError: (e) => errors.push(e.message) });
    track(ct, 5);
    await ct.flush();
    expect(ct.stats).toMatchObject({ sent: 4, rejected: 1, dropped: 1 });
    expect(errors).toEqual(["the collector rejected 1 of 5 events as invalid"]);
  });

  it("spools what it cannot send and replays it in order, once, when the collector returns", async () => {
    let down = true;
    server.answer = (post) =>
      down ? { status: 502, body: {} } : { status: 200, body: { accepted: post.events.length, rejected: [], duplicates: [] } };
    const ct = costtrail({ maxBatchSize: 50, flushIntervalMs: 30, initialBackoffMs: 50, maxBackoffMs: 200, onError: () => {} });
    for (let k = 0; k < 6; k++) {
      track(ct, 50, k * 50);
      await new Promise((r) => setTimeout(r, 60));
    }
    expect((await spooledFiles()).length).toBeGreaterThan(1);
    expect(ct.stats.spooled).toBe(300);
    const before = server.posts.length;
    down = false;
    await expect.poll(async () => (await spooledFiles()).length, { timeout: 5000 }).toBe(0);
    await ct.flush();
    const delivered = server.posts.slice(before).flatMap((p) => p.events.map((e) => e.id));
    expect(delivered).toEqual(Array.from({ length: 300 }, (_, i) => `evt_${i}`));
    expect(ct.stats).toMatchObject({ sent: 300, dropped: 0 });
  });

  it("never throws into the app when the collector cannot be reached", async () => {
    const ct = costtrail({ endpoint: "http://127.0.0.1:9", spoolDir: false, onError: () => {} });
    expect(() => track(ct, 3)).not.toThrow();
    await expect(ct.flush()).resolves.toBeUndefined();
    expect(ct.stats.retries).toBe(1);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter("Wed, 02 Dec 2026 10:00:05 GMT", Date.parse("2026-12-02T10:00:00Z"))).toBe(5000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("the exporter after a 413", () => {
  it("splits spooled batches too, so a backlog bigger than the collector's limit still arrives whole and in order", async () => {
    let down = true;
    server.answer = (post) =>
      down
        ? { status: 502, body: {} }
        : post.events.length > 2
          ? { status: 413, body: { code: "CT_PAYLOAD_TOO_LARGE" } }
          : { status: 200, body: { accepted: post.events.length, rejected: [], duplicates: [] } };
    const ct = costtrail({ maxBatchSize: 4, flushIntervalMs: 20, initialBackoffMs: 20, maxBackoffMs: 100, onError: () => {} });
    track(ct, 8);
    await expect.poll(async () => (await spooledFiles()).length).toBe(2);
    const before = server.posts.length;
    down = false;
    await expect.poll(async () => (await readdir(spool)).length, { timeout: 5000 }).toBe(0);
    const delivered = server.posts.slice(before).filter((p) => p.events.length <= 2);
    expect(delivered.flatMap((p) => p.events.map((e) => e.id))).toEqual(Array.from({ length: 8 }, (_, i) => `evt_${i}`));
    expect(ct.stats).toMatchObject({ sent: 8, dropped: 0 });
  });
});
