import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RANGE, type TestApp, auth, ingest, makeApp, wireEvent } from "./helpers.js";

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

describe("a query larger than the ledger's memory", () => {
  it("answers 503 CT_MEMORY_LIMIT naming the limit, while small queries and ingest go on", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "ct-memory-")), "ledger.duckdb");
    t = await makeApp("", { path });
    const pad = "x".repeat(200);
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 2_500 }, (_, i) =>
        wireEvent({ id: `m${b}-${i}`, user_id: `user-${b}-${i}`, tags: { n: `${b}-${i}`, pad } }),
      );
      expect((await ingest(t, events)).json().accepted).toBe(2_500);
    }
    await t.close();
    // Reopened with a small DuckDB limit: the 50,000 events fit, a row per event with a 200-character tag does not.
    t = await makeApp("", { path, duckdbMemoryLimitBytes: 48 * 1024 ** 2 });
    const big = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["cost_usd", "requests"], group_by: ["user_id", "tag.n", "tag.pad"], grain: "hour", ...RANGE },
    });
    expect(big.statusCode).toBe(503);
    expect(big.headers["retry-after"]).toBe("1");
    expect(big.json()).toMatchObject({ code: "CT_MEMORY_LIMIT", path: [] });
    expect(big.json().message).toMatch(/needs more memory than the ledger may use \(48\.0 MiB\); narrow its time range or its groups/);
    const small = await t.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: auth(t.keys.readAll),
      payload: { metrics: ["requests"], ...RANGE },
    });
    expect(small.json().rows).toEqual([{ requests: 50_000 }]);
    expect((await ingest(t, [wireEvent()])).json().accepted).toBe(1);
  }, 120_000);
});
