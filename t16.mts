import { loadDefaultRateCard } from "./packages/core/src/pricing/default-rate-card.js";
import { prepareEvent } from "./packages/core/src/index.js";
import { toLedgerRow } from "./packages/server/src/collector/to-ledger-row.js";
import { DuckDBInstance, DuckDBDataChunk, VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DECIMAL, MAP, INTEGER } from "@duckdb/node-api";
import { EVENT_COLUMNS, SCHEMA_SQL } from "./packages/server/src/store/duckdb/schema.js";
import { fillChunk } from "./packages/server/src/store/duckdb/chunk-writer.js";
import { rmSync } from "node:fs";
const card = await loadDefaultRateCard();
const mk = (i: number) => {
  const r = prepareEvent(
    {
      ...(i % 3 === 0 ? {} : { tags: { q: "x", z: `v${i}` } }),
      id: `e${i}`,
      timestamp: new Date(Date.now() + i).toISOString(),
      provider: "openai",
      model: "gpt-4o",
      api: "openai.chat",
      raw_usage: { prompt_tokens: 1000, completion_tokens: 100, prompt_tokens_details: { cached_tokens: 512 } },
      project: "p",
      environment: "prod",
      feature: "f",
      user_id: "u" + (i % 300),
      customer_id: "c",
      agent_run_id: `r${i}`,
      latency_ms: 812.5,
      attempt: 1,
    },
    card,
  );
  if (!r.ok) throw 1;
  return toLedgerRow(r.value, Date.now());
};
const typeOf = (t: string) =>
  t.startsWith("VARCHAR")
    ? VARCHAR
    : t.startsWith("BIGINT")
      ? BIGINT
      : t.startsWith("INTEGER")
        ? INTEGER
        : t.startsWith("DOUBLE")
          ? DOUBLE
          : t.startsWith("BOOLEAN")
            ? BOOLEAN
            : t.startsWith("TIMESTAMP")
              ? TIMESTAMP
              : t.startsWith("DECIMAL")
                ? DECIMAL(38, 18)
                : MAP(VARCHAR, VARCHAR);
const TYPES = EVENT_COLUMNS.map(([, t]) => typeOf(t));
rmSync("/tmp/proto/g.duckdb", { force: true });
rmSync("/tmp/proto/g.duckdb.wal", { force: true });
const inst = await DuckDBInstance.create("/tmp/proto/g.duckdb", { checkpoint_threshold: "1GB" });
const c = await inst.connect();
await c.run("SET GLOBAL TimeZone='UTC'");
for (const s of SCHEMA_SQL) await c.run(s);
let n = 0;
for (let k = 0; k < 10; k++) {
  const rows = Array.from({ length: 2048 }, () => mk(n++));
  let t = performance.now();
  const app = await c.createAppender("events");
  const chunk = DuckDBDataChunk.create(TYPES, 2048);
  fillChunk(chunk, rows, 0, 2048);
  app.appendDataChunk(chunk);
  const tb = performance.now() - t;
  t = performance.now();
  app.flushSync();
  app.closeSync();
  const tf = performance.now() - t;
  if (k > 2) console.log("build µs/row", ((1000 * tb) / 2048).toFixed(2), "flush µs/row", ((1000 * tf) / 2048).toFixed(2));
}
const r = await c.runAndReadAll(
  "SELECT id, ts, user_id, input_tokens, cache_read_tokens, output_tokens, cost_usd::VARCHAR AS cost, computed_cost_usd::VARCHAR AS cc, latency_ms, attempt, batch, streamed, tags['q'] AS q, tags['z'] AS z, cardinality(tags) AS nt, team, raw_usage FROM events ORDER BY ts LIMIT 3",
);
console.log(r.getRowObjectsJson());
console.log(
  (
    await c.runAndReadAll("SELECT count(*)::INT n, count(team)::INT teams, sum(cost_usd)::VARCHAR s, min(ts)::VARCHAR mn FROM events")
  ).getRowObjectsJson(),
);
