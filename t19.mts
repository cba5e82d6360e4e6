import { DuckDBInstance } from "@duckdb/node-api";
const inst = await DuckDBInstance.create("/tmp/proto/ev10m.duckdb");
const c = await inst.connect();
const W = "WHERE project = 'proj7'";
for (const [k, sql] of [
  ["group feature count", `SELECT feature, count(*) FROM events ${W} GROUP BY 1`],
  ["sum cost no group", `SELECT sum(cost_usd) FROM events ${W}`],
  ["sum cost::double", `SELECT sum(cost_usd::DOUBLE) FROM events ${W}`],
  ["sum cost*1e18 hugeint", `SELECT sum(CAST(cost_usd * 1000000000000000000 AS HUGEINT)) FROM events ${W}`],
  ["sum cost::dec(18,12)", `SELECT sum(CAST(cost_usd AS DECIMAL(18,12))) FROM events ${W}`],
  ["group feature sum", `SELECT feature, sum(cost_usd) FROM events ${W} GROUP BY 1`],
] as const) {
  const ts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    await c.runAndReadAll(sql);
    ts.push(performance.now() - t);
  }
  console.log(k.padEnd(24), ts.map((x) => x.toFixed(0)).join(" "));
}
