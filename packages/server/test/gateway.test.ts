import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../../sdk/test/fake-provider.js";
import { hashApiKey } from "../src/auth/api-keys.js";
import type { PreForwardCheck } from "../src/gateway/pre-forward-check.js";
import { type RunningServer, startServer } from "../src/serve.js";

const ADMIN = `gateway-admin-${"k".repeat(32)}`;
const UPSTREAM_SECRET = "sk-upstream-secret-0123456789abcdef";
const VIRTUAL_KEY = "ct_virtual_support_bot_0123456789abcdefgh";
const ENV_PROVIDER_KEY = "sk-from-env-fedcba9876543210";

let fake: FakeProvider;
let server: RunningServer;
let dir: string;
let logs = "";
let checks: PreForwardCheck[] = [];

beforeAll(async () => {
  fake = await FakeProvider.start();
  dir = await mkdtemp(join(tmpdir(), "costtrail-gateway-"));
  const config = join(dir, "costtrail.yaml");
  await writeFile(
    config,
    [
      "gateway:",
      "  upstreams:",
      `    openai: ${fake.url}/v1`,
      `    anthropic: ${fake.url}`,
      "  timeout: 1500ms",
      "  max_body_bytes: 200000",
      "  virtual_keys:",
      "    - name: support-bot-prod",
      `      hash: ${hashApiKey(VIRTUAL_KEY)}`,
      "      provider: openai",
      "      provider_key_env: GATEWAY_TEST_OPENAI_KEY",
      "      project: support-bot",
      "      team: support",
      "      cost_center: cc-410",
      "",
    ].join("\n"),
  );
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: join(dir, "data"),
    configFile: config,
    watchConfig: false,
    logger: { level: "debug", stream: sink },
    env: { COSTTRAIL_ADMIN_KEY: ADMIN, GATEWAY_TEST_OPENAI_KEY: ENV_PROVIDER_KEY },
    gatewayChecks: () => checks,
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function openai(headers: Record<string, string> = {}) {
  const feature = `gw-${++n}`;
  const client = new OpenAI({
    apiKey: UPSTREAM_SECRET,
    baseURL: `${server.url}/openai/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-costtrail-key": ADMIN, "x-costtrail-feature": feature, ...headers },
  });
  return { client, feature };
}

async function rows(feature: string): Promise<Array<Record<string, unknown>>> {
  // The gateway records after answering: give the append its moment.
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${server.url}/v1/events?feature=${feature}&limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const page = (await res.json()) as { events: Array<Record<string, unknown>> };
    if (page.events.length > 0) {
      await new Promise((r) => setTimeout(r, 30));
      const again = (await (
        await fetch(`${server.url}/v1/events?feature=${feature}&limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).json()) as { events: Array<Record<string, unknown>> };
      return again.events;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

describe("the gateway, OpenAI side", () => {
  it("forwards a chat completion, answers the upstream's bytes unchanged, and records its exact cost", async () => {
    const { client, feature } = openai({ "x-costtrail-user": "u_42", "x-costtrail-tags": "queue=billing,tier=pro" });
    const before = fake.requests.length;
    const viaGateway = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "Where is my refund?" }] })
      .asResponse();
    const direct = await fetch(`${fake.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", messages: [] }),
    });
    expect(await viaGateway.text()).toBe(await direct.text());
    const upstream = fake.requests[before];
    expect(upstream?.headers.authorization).toBe(`Bearer ${UPSTREAM_SECRET}`);
    expect(Object.keys(upstream?.headers ?? {}).filter((h) => h.startsWith("x-costtrail"))).toEqual([]);
    const [row] = await rows(feature);
    // 176 uncached × $2.50 + 1,024 cached × $1.25 + 300 output × $10, per million.
    expect(row).toMatchObject({
      cost_usd: "0.00472",
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      api: "openai.chat",
      user_id: "u_42",
      status: "ok",
      streamed: false,
      api_key_id: "bootstrap-admin",
      tags: { queue: "billing", tier: "pro", requested_model: "gpt-4o" },
    });
  });

  it("passes a stream through chunk by chunk, asking upstream for usage without showing it to the client", async () => {
    const { client, feature } = openai();
    const direct = new OpenAI({ apiKey: "x", baseURL: `${fake.url}/v1`, maxRetries: 0 });
    const params = { model: "gpt-4o", stream: true as const, messages: [{ role: "user" as const, content: "Refund?" }] };
    const expected: unknown[] = [];
    for await (const c of await direct.chat.completions.create(params)) expected.push(c);
    const before = fake.requests.length;
    const got: unknown[] = [];
    for await (const c of await client.chat.completions.create(params)) got.push(c);
    expect(got).toEqual(expected);
    expect(fake.requests[before]?.body.stream_options).toEqual({ include_usage: true });
    const [row] = await rows(feature);
    expect(row).toMatchObject({ cost_usd: "0.00284", streamed: true, status: "ok" });
    expect(row?.ttft_ms).toEqual(expect.any(Number));
  });

  it("passes tool calls through, plain and streamed", async () => {
    const { client, feature } = openai();
    const tools = [{ type: "function" as const, function: { name: "lookup_order", parameters: { type: "object", properties: {} } } }];
    const messages = [{ role: "user" as const, content: "Where is order 4412?" }];
    const plain = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
    expect(plain.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      function: { name: "lookup_order", arguments: '{"order_id":"4412"}' },
    });
    let args = "";
    for await (const c of await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true })) {
      args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
    }
    expect(args).toBe('{"order_id":"4412"}');
    // 85 input × $0.15 + 18 output × $0.60, per million, each.
    expect((await rows(feature)).map((r) => r.cost_usd)).toEqual(["0.00002355", "0.00002355"]);
  });

  it("records Responses calls and embeddings, and lists models without recording", async () => {
    const { client, feature } = openai();
    await client.responses.create({ model: "gpt-5-mini", input: "When?" });
    await client.embeddings.create({ model: "text-embedding-3-small", input: "refund policy" });
    fake.script("/v1/models", { kind: "status", status: 200, body: { object: "list", data: [{ id: "gpt-4o", object: "model" }] } });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-4o"]);
    const recorded = await rows(feature);
    expect(recorded.map((r) => [r.api, r.cost_usd]).sort()).toEqual([
      ["openai.embeddings", "0.00000016"],
      ["openai.responses", "0.0013846"],
    ]);
  });

  it("relays an upstream error verbatim and records it; each retry is its own event", async () => {
    const { client, feature } = openai();
    const body = { error: { message: "Rate limit reached for gpt-4o", type: "requests", param: null, code: "rate_limit_exceeded" } };
    fake.script("/v1/chat/completions", {
      kind: "status",
      status: 429,
      body,
      headers: { "retry-after-ms": "5", "x-ratelimit-remaining-requests": "0" },
    });
    const res = await fetch(`${server.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-costtrail-key": ADMIN,
        "x-costtrail-feature": "gw-verbatim",
        authorization: "Bearer x",
      },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual(body);
    expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    fake.script("/v1/chat/completions", { kind: "status", status: 500, body: { error: { message: "boom", type: "server_error" } } });
    const retried = client.withOptions({ maxRetries: 1 });
    await retried.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    const recorded = (await rows(feature)).sort((a, b) => Number(a.attempt) - Number(b.attempt));
    expect(recorded.map((r) => [r.attempt, r.status, r.error_type ?? null, r.cost_usd])).toEqual([
      [1, "error", "500 server_error", "0"],
      [2, "ok", null, "0.00472"],
    ]);
  });

  it("answers 504 in OpenAI's error shape when the upstream does not answer in time", async () => {
    const { client, feature } = openai();
    fake.script("/v1/chat/completions", { kind: "hang" });
    const err = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(err.status).toBe(504);
    expect(err.error).toMatchObject({ type: "server_error" });
    expect(err.message).toContain("did not answer within 1500 ms");
    const [row] = await rows(feature);
    expect(row).toMatchObject({ status: "error", error_type: "upstream_timeout" });
  });

  it("refuses bad attribution headers, malformed JSON and oversize bodies before anything reaches the upstream", async () => {
    const before = fake.requests.length;
    const { client } = openai({ "x-costtrail-tags": "queue" });
    const err = await client.chat.completions.create({ model: "gpt-4o", messages: [] }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toContain("x-costtrail-tags: expected key=value pairs");
    expect(err.error.param).toBe("x-costtrail-tags");
    const bad = await fetch(`${server.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-costtrail-key": ADMIN, authorization: "Bearer x" },
      body: '{"model": "gpt-4o", ',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: "invalid_request_error", message: "The request body must be a JSON object" } });
    const big = await fetch(`${server.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-costtrail-key": ADMIN, authorization: "Bearer x" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(300_000) }] }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const noKey = await new OpenAI({ apiKey: "sk-someone", baseURL: `${server.url}/openai/v1`, maxRetries: 0 }).models
      .list()
      .catch((e) => e);
    expect(noKey.status).toBe(401);
    expect(fake.requests.length).toBe(before);
  });

  it("takes a virtual key as the provider key: the provider key from the environment goes upstream, the key's defaults attribute the call", async () => {
    const feature = `gw-${++n}`;
    const plain = new OpenAI({
      apiKey: VIRTUAL_KEY,
      baseURL: `${server.url}/openai/v1`,
      maxRetries: 0,
      defaultHeaders: { "x-costtrail-feature": feature },
    });
    const before = fake.requests.length;
    await plain.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(fake.requests[before]?.headers.authorization).toBe(`Bearer ${ENV_PROVIDER_KEY}`);
    const [row] = await rows(feature);
    expect(row).toMatchObject({ project: "support-bot", team: "support", cost_center: "cc-410", api_key_id: "virtual:support-bot-prod" });
  });

  it("stops a request a check refuses before any byte reaches the upstream, and records it as blocked", async () => {
    const { client, feature } = openai();
    const seen: unknown[] = [];
    checks = [
      (input) => {
        seen.push(input);
        return { action: "refuse", budget: "search-daily", message: "$5.00 a day, $5.00 spent" };
      },
    ];
    const before = fake.requests.length;
    try {
      const err = await client.chat.completions
        .create({ model: "gpt-4o", max_tokens: 100, messages: [{ role: "user", content: "x".repeat(400) }] })
        .catch((e) => e);
      expect(err.status).toBe(429);
      expect(err.message).toContain('Refused by Costtrail budget "search-daily"');
    } finally {
      checks = [];
    }
    expect(fake.requests.length).toBe(before);
    // 400 x's are 50 o200k tokens, plus 7 of message framing: 57 input × $2.50 + 100 output × $10, per million.
    expect(seen[0]).toMatchObject({
      provider: "openai",
      model: "gpt-4o",
      estimate: { inputTokens: 57, maxOutputTokens: 100, costUsd: "0.0011425", method: "tokenizer" },
    });
    const [row] = await rows(feature);
    expect(row).toMatchObject({ status: "blocked", cost_usd: "0", error_type: "blocked by search-daily" });
  });

  it("rewrites the model when a check downgrades it", async () => {
    const { client, feature } = openai();
    checks = [() => ({ action: "rewrite", model: "gpt-4o-mini" })];
    const before = fake.requests.length;
    try {
      await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    } finally {
      checks = [];
    }
    expect(fake.requests[before]?.body.model).toBe("gpt-4o-mini");
    expect((await rows(feature))[0]?.tags).toMatchObject({ requested_model: "gpt-4o" });
  });

  it("cancels the upstream when the client goes away mid-stream, and records the call as aborted", async () => {
    const { client, feature } = openai();
    fake.eventDelayMs = 25;
    const cancelled = fake.cancelledStreams;
    try {
      let seen = 0;
      for await (const c of await client.chat.completions.create({
        model: "gpt-4o",
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      })) {
        if (c.choices[0]?.delta.content) seen++;
        if (seen === 3) break;
      }
      await expect.poll(() => fake.cancelledStreams, { timeout: 3000 }).toBe(cancelled + 1);
    } finally {
      fake.eventDelayMs = 2;
    }
    const [row] = await rows(feature);
    expect(row).toMatchObject({ status: "aborted", streamed: true });
  });

  it("serves 200 concurrent requests, each recorded once", async () => {
    const { client, feature } = openai();
    const results = await Promise.all(
      Array.from({ length: 200 }, () => client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })),
    );
    expect(results.every((r) => r.usage?.prompt_tokens === 1200)).toBe(true);
    await expect.poll(async () => (await rows(feature)).length, { timeout: 5000 }).toBe(200);
    const recorded = await rows(feature);
    expect(new Set(recorded.map((r) => r.cost_usd))).toEqual(new Set(["0.00472"]));
  });
});

describe("an unreachable upstream", () => {
  it("answers 502 in the provider's error shape and records the failed call", async () => {
    const d = await mkdtemp(join(tmpdir(), "costtrail-gateway-down-"));
    await writeFile(join(d, "costtrail.yaml"), "gateway:\n  upstreams:\n    openai: http://127.0.0.1:9/v1\n");
    const down = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: join(d, "data"),
      configFile: join(d, "costtrail.yaml"),
      watchConfig: false,
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: ADMIN },
    });
    try {
      const client = new OpenAI({
        apiKey: UPSTREAM_SECRET,
        baseURL: `${down.url}/openai/v1`,
        maxRetries: 0,
        defaultHeaders: { "x-costtrail-key": ADMIN, "x-costtrail-feature": "gw-down" },
      });
      const err = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(err.error).toMatchObject({ type: "server_error" });
      expect(err.message).toContain("The openai upstream could not be reached");
      expect(err.message).not.toContain(UPSTREAM_SECRET);
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${down.url}/v1/events?feature=gw-down`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const { events } = (await res.json()) as { events: Array<Record<string, unknown>> };
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ status: "error", error_type: "upstream_unreachable", cost_usd: "0" });
    } finally {
      await down.close();
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe("the gateway, Anthropic side", () => {
  const anthropic = (feature: string) =>
    new Anthropic({
      apiKey: UPSTREAM_SECRET,
      baseURL: `${server.url}/anthropic`,
      maxRetries: 0,
      defaultHeaders: { "x-costtrail-key": ADMIN, "x-costtrail-feature": feature, "x-costtrail-customer": "acme" },
    });

  it("records messages, plain and streamed, and passes count_tokens through unrecorded", async () => {
    const client = anthropic("gw-anthropic");
    const before = fake.requests.length;
    const msg = await client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "9.2?" }],
    });
    expect(msg.usage.cache_read_input_tokens).toBe(6000);
    // The client's credential header (x-api-key, or Authorization in @anthropic-ai/sdk 1.x) passes untouched.
    const sent = fake.requests[before]?.headers ?? {};
    expect(sent["x-api-key"] ?? sent.authorization).toMatch(new RegExp(`^(Bearer )?${UPSTREAM_SECRET}$`));
    const final = await client.messages
      .stream({ model: "claude-haiku-4-5", max_tokens: 1024, messages: [{ role: "user", content: "9.2?" }] })
      .finalMessage();
    expect(final.usage.output_tokens).toBe(57);
    fake.script("/v1/messages/count_tokens", { kind: "status", status: 200, body: { input_tokens: 14 } });
    expect(
      (await client.messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] })).input_tokens,
    ).toBe(14);
    const recorded = await rows("gw-anthropic");
    expect(recorded.map((r) => [r.streamed, r.cost_usd, r.customer_id]).sort()).toEqual([
      [false, "0.014202", "acme"],
      [true, "0.000695", "acme"],
    ]);
  });

  it("answers errors in Anthropic's shape", async () => {
    const client = new Anthropic({
      apiKey: "sk-ant-x",
      baseURL: `${server.url}/anthropic`,
      maxRetries: 0,
      defaultHeaders: { "x-costtrail-key": "ct_wrong" },
    });
    const err = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [] }).catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });
});

describe("provider credentials", () => {
  it("never appear in the logs or in any file of the ledger", async () => {
    await server.close();
    const secrets = [UPSTREAM_SECRET, VIRTUAL_KEY, ENV_PROVIDER_KEY];
    expect(logs.length).toBeGreaterThan(0);
    for (const s of secrets) expect(logs.includes(s)).toBe(false);
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const name of await readdir(d)) {
        const p = join(d, name);
        if ((await stat(p)).isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(join(dir, "data"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = await readFile(f);
      for (const s of secrets) expect(bytes.includes(Buffer.from(s)), `${s} in ${f}`).toBe(false);
    }
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: join(dir, "data"),
      logger: false,
      env: { COSTTRAIL_ADMIN_KEY: ADMIN },
    });
  });
});
