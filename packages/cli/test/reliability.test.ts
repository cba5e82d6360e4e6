import { access, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCosttrail } from "./run-costtrail.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const ADMIN = `ct_${"R".repeat(40)}`;
const ENV = { COSTTRAIL_ADMIN_KEY: ADMIN };
const HEADERS = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };

function batch(client: number, n: number, size: number) {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => ({
    id: `c${client}_b${n}_${i}`,
    timestamp: new Date(now - 1000 + i).toISOString(),
    provider: "openai",
    model: "gpt-4o-mini",
    usage: { input_tokens: 1000, output_tokens: 100 },
    feature: `client-${client}`,
  }));
}

/** Every event id the ledger holds, with how many times. */
async function ledgerIds(server: ServerProcess): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/v1/export?format=ndjson&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, { headers: HEADERS });
  expect(res.status).toBe(200);
  const counts = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (!line) continue;
    const id = (JSON.parse(line) as { id: string }).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("crash safety (real server process, loopback only)", () => {
  it.each([
    ["with one live segment", ""],
    // Small segments: several are sealed, compacted into the main file and deleted while
    // clients ingest, so the kill can land during a copy.
    ["while live segments are sealed and compacted", "server:\n  segment_events: 1500\n"],
  ])(
    "keeps every acknowledged event exactly once across a kill -9 and a restart, %s",
    async (_case, config) => {
      const dir = await mkdtemp(join(tmpdir(), "ct-crash-"));
      const extra: string[] = [];
      if (config) {
        await writeFile(join(dir, "costtrail.yaml"), config);
        extra.push("--config", join(dir, "costtrail.yaml"));
      }
      const server = await startServerProcess(dir, ENV, extra);
      const acked: Array<ReturnType<typeof batch>> = [];
      let stop = false;
      const clients = Array.from({ length: 4 }, async (_, c) => {
        // Bounded: at most 400 batches per client, and the loop ends at the first failed request.
        for (let n = 0; n < 400 && !stop; n++) {
          const events = batch(c, n, 200);
          try {
            const res = await fetch(`${server.url}/v1/events`, { method: "POST", headers: HEADERS, body: JSON.stringify(events) });
            if (res.status === 200) acked.push(events);
            else if (res.status !== 503) throw new Error(`unexpected ${res.status}`);
          } catch {
            return;
          }
        }
      });
      // Let traffic flow, then kill the server mid-stream without warning.
      await new Promise((r) => setTimeout(r, 1500));
      server.child.kill("SIGKILL");
      stop = true;
      expect(await server.exited).toBe("SIGKILL");
      await Promise.all(clients);
      expect(acked.length).toBeGreaterThan(5);
      if (config) {
        // Segments were sealed, and the first ones already compacted and deleted.
        const live = (await readdir(dir)).filter((f) => /\.live-\d+$/.test(f)).map((f) => Number(f.split("-").at(-1)));
        expect(Math.max(...live)).toBeGreaterThan(3);
        expect(live).not.toContain(1);
      }

      const again = await startServerProcess(dir, ENV, extra);
      try {
        const counts = await ledgerIds(again);
        const ackedIds = acked.flat().map((e) => e.id);
        const missing = ackedIds.filter((id) => !counts.has(id));
        const doubled = [...counts.entries()].filter(([, n]) => n > 1);
        expect(missing).toEqual([]);
        expect(doubled).toEqual([]);
        // Retrying acknowledged batches after the restart changes nothing.
        const res = await fetch(`${again.url}/v1/events`, {
          method: "POST",
          headers: HEADERS,
          body: JSON.stringify(acked.slice(0, 3).flat()),
        });
        expect((await res.json()).duplicates).toHaveLength(600);
        expect((await ledgerIds(again)).size).toBe(counts.size);
      } finally {
        again.child.kill("SIGTERM");
        await again.exited;
      }
    },
    60_000,
  );

  it("finishes in-flight batches on SIGTERM and exits cleanly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-term-"));
    const server = await startServerProcess(dir, ENV);
    const events = batch(9, 0, 5000);
    const pending = fetch(`${server.url}/v1/events`, { method: "POST", headers: HEADERS, body: JSON.stringify(events) });
    await new Promise((r) => setTimeout(r, 50));
    server.child.kill("SIGTERM");
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await server.exited).toBe(0);
    const again = await startServerProcess(dir, ENV);
    try {
      expect((await ledgerIds(again)).size).toBe(5000);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  }, 60_000);
});

describe("start-up errors", () => {
  it("says the port is taken, and that the ledger is in use, instead of crashing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-busy-"));
    const first = await startServerProcess(dir, ENV);
    try {
      const port = new URL(first.url).port;
      const run = (args: string[]) => runCosttrail(["serve", "--quiet", ...args], { env: { ...process.env, ...ENV } });
      const busyPort = await run(["--port", port, "--data-dir", await mkdtemp(join(tmpdir(), "ct-busy2-"))]);
      expect(busyPort.code).toBe(2);
      expect(busyPort.stderr).toContain(`--port: 127.0.0.1:${port} is already in use`);
      const busyLedger = await run(["--port", "0", "--data-dir", dir]);
      expect(busyLedger.code).toBe(2);
      expect(busyLedger.stderr).toContain("is open in another costtrail process");
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  }, 60_000);

  it("refuses a busy port before creating the data directory or making and printing a key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-busy-"));
    const first = await startServerProcess(dir, ENV);
    try {
      const port = new URL(first.url).port;
      const fresh = join(await mkdtemp(join(tmpdir(), "ct-busy3-")), "data");
      // No COSTTRAIL_ADMIN_KEY: a start that got as far as the key would generate and print one.
      const { COSTTRAIL_ADMIN_KEY: _, ...env } = process.env;
      const busy = await runCosttrail(["serve", "--port", port, "--data-dir", fresh], { env });
      expect(busy.code).toBe(2);
      expect(busy.stderr).toContain(`--port: 127.0.0.1:${port} is already in use`);
      expect(busy.stderr).not.toMatch(/admin key|ct_[0-9A-Za-z]{40}/i);
      await expect(access(fresh)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  }, 60_000);
});

describe("re-pricing across a crash (real server process, loopback only)", () => {
  it("resumes a reprice killed mid-run at the next start, and counts no event twice", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-reprice-crash-"));
    const config = join(dir, "costtrail.yaml");
    // 150,000 events over 75 hours: several windows of at most 50,000. Each: 1,000 input and
    // 100 output tokens of gpt-4o-mini ($0.15 / $0.60): 150 + 60 = 210 per million = $0.00021.
    const start = Math.floor((Date.now() - 4 * 86_400_000) / 3_600_000) * 3_600_000;
    const first = await startServerProcess(dir, ENV);
    try {
      for (let b = 0; b < 75; b++) {
        const events = Array.from({ length: 2000 }, (_, i) => ({
          id: `r${b}_${i}`,
          timestamp: new Date(start + b * 3_600_000 + i * 1000).toISOString(),
          provider: "openai",
          model: "gpt-4o-mini",
          usage: { input_tokens: 1000, output_tokens: 100 },
        }));
        const res = await fetch(`${first.url}/v1/events`, { method: "POST", headers: HEADERS, body: JSON.stringify(events) });
        expect(res.status).toBe(200);
      }
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
    // A discount agreed later: 20% off every OpenAI event, so each becomes $0.000168.
    await writeFile(config, 'version: 1\npricing:\n  discounts: { openai: "20" }\n');
    const body = { from: new Date(start).toISOString(), reason: "20% OpenAI discount" };
    const version = async (url: string, n: number) => {
      const res = await fetch(`${url}/v1/reprice/${n}`, { headers: HEADERS });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status !== 200) throw new Error(`GET /v1/reprice/${n} answered ${res.status}: ${JSON.stringify(body)}`);
      return body;
    };
    const second = await startServerProcess(dir, ENV, ["--config", config]);
    let killedAt = 0;
    try {
      const started = (await (
        await fetch(`${second.url}/v1/reprice`, { method: "POST", headers: HEADERS, body: JSON.stringify(body) })
      ).json()) as {
        version: number;
        events_total: number;
      };
      expect(started).toMatchObject({ version: 1, events_total: 150_000 });
      // Kill it once a first window is saved and before the last one is.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const v = await version(second.url, 1);
        const done = Number(v.events_done);
        if (done > 0 && v.state === "running") {
          killedAt = done;
          break;
        }
        expect(v.state).toBe("running");
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      second.child.kill("SIGKILL");
      await second.exited;
    }
    expect(killedAt).toBeLessThan(150_000);
    const third = await startServerProcess(dir, ENV, ["--config", config]);
    try {
      const deadline = Date.now() + 60_000;
      let v = await version(third.url, 1);
      while (v.state === "running" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        v = await version(third.url, 1);
      }
      expect(v).toMatchObject({
        state: "done",
        events_total: 150_000,
        events_done: 150_000,
        recorded_cost_usd: "31.5",
        current_cost_usd: "25.2",
        difference_usd: "-6.3",
      });
      const q = await fetch(`${third.url}/v1/query`, {
        method: "POST",
        headers: HEADERS,
        body: JSON.stringify({ metrics: ["cost_usd", "requests"], from: body.from, pricing: "current" }),
      });
      expect(((await q.json()) as { rows: unknown[] }).rows).toEqual([{ cost_usd: "25.2", requests: 150_000 }]);
    } finally {
      third.child.kill("SIGTERM");
      await third.exited;
    }
  }, 180_000);
});
