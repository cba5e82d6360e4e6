import { DuckDBInstance } from "@duckdb/node-api";
const inst = await DuckDBInstance.create("/tmp/proto/ev10m.duckdb");
const c = await inst.connect();
await c.run(
  "CREATE OR REPLACE TABLE e2 AS SELECT ts, project, feature, CAST(cost_usd AS DECIMAL(18,12)) AS c12, cost_usd AS c38 FROM events",
);
await c.run("CHECKPOINT");
const W = "WHERE project = 'proj7'";
for (const [k, sql] of [
  ["c38 group feature", `SELECT feature, sum(c38) FROM e2 ${W} GROUP BY 1`],
  ["c12 group feature", `SELECT feature, sum(c12) FROM e2 ${W} GROUP BY 1`],
  ["c38 whole by day", `SELECT date_trunc('day', ts), sum(c38) FROM e2 GROUP BY 1`],
  ["c12 whole by day", `SELECT date_trunc('day', ts), sum(c12) FROM e2 GROUP BY 1`],
] as const) {
  const ts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    await c.runAndReadAll(sql);
    ts.push(performance.now() - t);
  }
  console.log(k.padEnd(24), ts.map((x) => x.toFixed(0)).join(" "));
}
await c.run("DROP TABLE e2");
