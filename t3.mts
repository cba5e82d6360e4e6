import { demoEvents } from "./packages/cli/src/demo/demo-traffic.js";
import { makeApp, ingest } from "./packages/server/test/helpers.js";
const end = Date.parse("2026-11-23T15:00:00Z");
const a = [...demoEvents({ events: 2000, days: 30, seed: 7, end })];
const t = await makeApp();
console.log((await ingest(t, a.slice(0, 1000))).json().duplicates);
console.log((await ingest(t, a.slice(0, 1000))).json().duplicates);
console.log((await ingest(t, a.slice(0, 10))).json().duplicates);
const r = await t.app.inject({
  method: "POST",
  url: "/v1/query",
  headers: { authorization: `Bearer ${t.keys.readAll}` },
  payload: { metrics: ["requests"], from: "2026-01-01T00:00:00Z" },
});
console.log(r.body);
await t.close();
