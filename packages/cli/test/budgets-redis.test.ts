import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../../sdk/test/fake-provider.js";
import { REDIS_AVAILABLE, type RedisProcess, startRedis } from "../../server/test/redis-server.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const ADMIN = `redis-budgets-admin-${"k".repeat(24)}`;

describe.skipIf(!REDIS_AVAILABLE)("budgets shared by two server processes through Redis", () => {
  let redis: RedisProcess;
  let fake: FakeProvider;
  let dir: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    fake = await FakeProvider.start();
    dir = await mkdtemp(join(tmpdir(), "costtrail-redis-budgets-"));
    const config = join(dir, "costtrail.yaml");
    // gpt-4o with max_tokens 500 and this prompt is estimated at $0.00504 and answered at
    // $0.00472 (the fixture's usage): $0.2545 leaves room for 50 reservations, not 51.
    await writeFile(
      config,
      [
        "gateway:",
        "  upstreams:",
        `    openai: ${fake.url}/v1`,
        `    anthropic: ${fake.url}`,
        "counters:",
        "  store: redis",
        `  redis_url: ${redis.url}`,
        "budgets:",
        "  - name: shared",
        "    match: { feature: shared }",
        "    period: day",
        '    limit_usd: "0.2545"',
        "    actions: [{ at_percent: 100, action: block }]",
        "",
      ].join("\n"),
    );
    for (const name of ["a", "b"]) {
      servers.push(await startServerProcess(join(dir, name), { COSTTRAIL_ADMIN_KEY: ADMIN }, ["--config", config]));
    }
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.pid !== undefined) process.kill(s.child.pid, "SIGTERM");
      await s.exited;
    }
    await fake?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("lets 50 of 200 concurrent calls through, 100 sent to each server, and both servers report the same spend", async () => {
    // The provider holds its answers until every call is admitted or refused: all are in flight at once.
    const release = fake.holdAnswers();
    const before = fake.requests.length;
    let refused = 0;
    const body = JSON.stringify({ model: "gpt-4o", max_tokens: 500, messages: [{ role: "user", content: "Where is my refund?" }] });
    const sent = Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${(servers[i % 2] as ServerProcess).url}/openai/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: "Bearer sk-test",
            "x-costtrail-key": ADMIN,
            "x-costtrail-feature": "shared",
          },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 429) refused++;
        return res.status;
      }),
    );
    for (let i = 0; i < 1000 && fake.requests.length - before + refused < 200; i++) await new Promise((r) => setTimeout(r, 10));
    release();
    const statuses = await sent;
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150);
    // Each server settles its own calls' reservations as their events reach its ledger.
    const standing = async (url: string) => {
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${url}/v1/budgets`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const [b] = ((await res.json()) as { budgets: Array<{ spent_usd: string; reserved_usd: string }> }).budgets;
        if (b?.reserved_usd === "0") return b;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("reservations were not settled");
    };
    for (const s of servers) expect(await standing(s.url)).toMatchObject({ spent_usd: "0.236", reserved_usd: "0" });
  }, 60_000);
});
