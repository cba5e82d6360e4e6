import { DuckDBInstance } from "@duckdb/node-api";
import { existsSync } from "node:fs";
const path = "/tmp/proto/ev10m.duckdb";
if (!existsSync(path)) {
  process.env.BENCH_SIZES = "0";
  const m = await import("./packages/server/bench/rollups.bench.ts");
  await (m as any).fill(path, 10_000_000);
}
const inst = await DuckDBInstance.create(path);
const c = await inst.connect();
await c.run("CREATE OR REPLACE TEMP TABLE narrow AS SELECT ts, project, feature, cost_usd FROM events");
const q = (t: string) => `SELECT feature, sum(cost_usd), count(*) FROM ${t} WHERE project = 'proj7' GROUP BY 1`;
for (const [k, sql] of [
  ["events", q("events")],
  ["narrow(temp)", q("narrow")],
  ["events count only", "SELECT count(*) FROM events WHERE project = 'proj7'"],
  ["events project scan", "SELECT count(*) FROM events WHERE project LIKE 'proj7'"],
] as const) {
  const ts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    await c.runAndReadAll(sql);
    ts.push(performance.now() - t);
  }
  console.log(k.padEnd(22), ts.map((x) => x.toFixed(0)).join(" "));
}
const seg = await c.runAndReadAll(
  "SELECT column_name, compression, count(*)::INT n FROM pragma_storage_info('events') WHERE column_name IN ('project','feature','cost_usd','ts') GROUP BY ALL ORDER BY 1",
);
console.log(seg.getRowObjectsJson());
