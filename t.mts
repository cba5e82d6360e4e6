import { startServerProcess } from "./packages/cli/test/server-process.js";
const ADMIN = `ct_${"R".repeat(40)}`;
const s = await startServerProcess("/tmp/proto/term", { COSTTRAIL_ADMIN_KEY: ADMIN });
const now = Date.now();
const events = Array.from({ length: 5000 }, (_, i) => ({
  id: `t${i}`,
  timestamp: new Date(now - 1000 + i).toISOString(),
  provider: "openai",
  model: "gpt-4o-mini",
  usage: { input_tokens: 1000, output_tokens: 100 },
}));
const p = fetch(`${s.url}/v1/events`, {
  method: "POST",
  headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
  body: JSON.stringify(events),
});
await new Promise((r) => setTimeout(r, 50));
s.child.kill("SIGTERM");
const t0 = Date.now();
const r = await p;
console.log("resp", r.status, await r.text(), Date.now() - t0);
const to = setTimeout(() => {
  console.log("STDERR:", s.stderr());
  s.child.kill("SIGKILL");
}, 8000);
console.log("exit", await s.exited, Date.now() - t0);
clearTimeout(to);
