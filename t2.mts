import { startServer } from "./packages/server/src/index.js";
const s = await startServer({ port: 0, dataDir: "/tmp/proto/term2", logger: false, env: { COSTTRAIL_ADMIN_KEY: "ct_" + "a".repeat(40) } });
const r = await fetch(`${s.url}/v1/events`, {
  method: "POST",
  headers: { authorization: `Bearer ${s.adminKey}`, "content-type": "application/json" },
  body: JSON.stringify([{ id: "x", timestamp: new Date().toISOString(), provider: "openai", model: "gpt-4o", usage: { input_tokens: 1 } }]),
});
console.log(r.status);
let t = Date.now();
await s.app.close();
console.log("app closed", Date.now() - t);
t = Date.now();
await s.store.close();
console.log("store closed", Date.now() - t);
