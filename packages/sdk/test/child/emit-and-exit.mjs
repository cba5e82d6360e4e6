// Run by exit.test.ts as its own process: makes wrapped calls and tracks events with a flush
// interval too long to send any, then ends either by returning (the event loop empties) or
// by process.exit(), as COSTTRAIL_TEST_END says.
import OpenAI from "openai";
import { Costtrail } from "../../dist/index.js";

const env = process.env;
const ct = new Costtrail({
  endpoint: env.COSTTRAIL_TEST_COLLECTOR,
  apiKey: env.COSTTRAIL_TEST_KEY,
  project: "exit-test",
  spoolDir: env.COSTTRAIL_TEST_SPOOL,
  flushIntervalMs: 600_000,
  maxBatchSize: 50_000,
  maxQueueSize: 50_000,
});
const openai = ct.wrap(new OpenAI({ apiKey: "sk-test", baseURL: `${env.COSTTRAIL_TEST_PROVIDER}/v1`, maxRetries: 0 }));

await ct.withContext({ feature: env.COSTTRAIL_TEST_FEATURE }, async () => {
  for (let i = 0; i < 3; i++) {
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  }
  for (let i = 0; i < Number(env.COSTTRAIL_TEST_COUNT); i++) {
    ct.track({ provider: "openai", model: "gpt-4o-mini", usage: { input_tokens: 100, output_tokens: 10 } });
  }
});
await new Promise((r) => setTimeout(r, 20));
if (env.COSTTRAIL_TEST_END === "exit") process.exit(0);
