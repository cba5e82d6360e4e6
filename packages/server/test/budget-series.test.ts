import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../src/auth/api-keys.js";
import { type RunningServer, startServer } from "../src/serve.js";

const ADMIN = "ct_seriesadminseriesadminseriesadmin0001";
const READER_B = "ct_seriesreaderbseriesreaderbseriesre02";
let server: RunningServer;

const HOUR = 3_600_000;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "ct-series-"));
  const configFile = join(dir, "costtrail.yaml");
  await writeFile(
    configFile,
    `api_keys:
  - { name: reader-b, hash: "${hashApiKey(READER_B)}", scopes: [read], projects: [proj-b] }
budgets:
  - name: a-daily
    match: { project: proj-a }
    period: day
    rolling: true
    limit_usd: "10"
    actions: [{ at_percent: 100, action: block }]
  - name: per-customer
    each_value_of: customer_id
    period: day
    rolling: true
    limit_usd: "2"
    actions: [{ at_percent: 100, action: block }]
`,
  );
  server = await startServer({ port: 0, dataDir: join(dir, "data"), configFile, logger: false, env: { COSTTRAIL_ADMIN_KEY: ADMIN } });
  const now = Date.now();
  const event = (id: string, ms: number, cost: string, over: Record<string, unknown> = {}) => ({
    id,
    timestamp: new Date(ms).toISOString(),
    project: "proj-a",
    customer_id: "acme",
    provider: "openai",
    model: "gpt-4o-mini",
    api: "openai.chat",
    usage: { input_tokens: 10, output_tokens: 5 },
    cost_usd: cost,
    ...over,
  });
  const res = await fetch(`${server.url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify([
      event("s1", now - 5 * HOUR, "1.5"),
      event("s2", now - 5 * HOUR, "0.25"),
      event("s3", now - 2 * HOUR, "3"),
      event("s4", now - 2 * HOUR, "0.5", { customer_id: "globex" }),
      event("s5", now - 30 * HOUR, "100"),
      event("s6", now - HOUR, "7", { project: "proj-b" }),
    ]),
  });
  expect(((await res.json()) as { accepted: number }).accepted).toBe(6);
});
afterAll(async () => {
  await server?.close();
});

const get = (path: string, key = ADMIN) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

describe("a budget's burn-down", () => {
  it("gives the spend per hour of a day's window and its running total, against the limit", async () => {
    const res = await get("/v1/budgets/a-daily/series");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      limit_usd: string;
      grain: string;
      scope: null;
      points: Array<{ cost_usd: string; cumulative_usd: string }>;
    };
    expect(body).toMatchObject({ name: "a-daily", scope: null, limit_usd: "10", grain: "hour" });
    // The 30-hour-old $100 is outside the rolling day; proj-b's $7 is outside the budget.
    expect(body.points.map((p) => [p.cost_usd, p.cumulative_usd])).toEqual([
      ["1.75", "1.75"],
      ["3.5", "5.25"],
    ]);
  });

  it("gives one scope of an each-value-of budget, and says which scope it needs", async () => {
    const res = await get("/v1/budgets/per-customer/series?scope=globex");
    const body = (await res.json()) as { scope: string; points: Array<{ cumulative_usd: string }> };
    expect(body.scope).toBe("globex");
    expect(body.points.at(-1)?.cumulative_usd).toBe("0.5");
    const missing = await get("/v1/budgets/per-customer/series");
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ path: ["query", "scope"] });
    const extra = await get("/v1/budgets/a-daily/series?scope=x");
    expect(await extra.json()).toMatchObject({ path: ["query", "scope"] });
  });

  it("is not found for an unknown budget, or one outside the key's projects", async () => {
    const unknown = await get("/v1/budgets/nope/series");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "CT_NOT_FOUND", path: ["params", "name"] });
    expect((await get("/v1/budgets/a-daily/series", READER_B)).status).toBe(404);
  });
});
