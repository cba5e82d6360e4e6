import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../src/auth/api-keys.js";
import { loadConfig, memoryPlan, parseConfig } from "../src/config/load-config.js";

const HASH = hashApiKey("ct_abcdefghijklmnopqrstuvwxyz0123");

describe("costtrail.yaml", () => {
  it("reads projects, hashed keys, server limits and pricing, and freezes the result", () => {
    const c = parseConfig(
      `version: 1
server:
  body_limit_bytes: 5000000
  segment_events: 100000
projects:
  - name: support-bot
api_keys:
  - name: bot-ingest
    hash: ${HASH}
    scopes: [ingest]
    projects: [support-bot]
pricing:
  discounts: { openai: "10" }
`,
      "costtrail.yaml",
    );
    expect(c.server).toEqual({
      memory_limit_bytes: 2 ** 30,
      body_limit_bytes: 5_000_000,
      max_pending_events: 41_943,
      segment_events: 100_000,
      max_future_skew_ms: 86_400_000,
      min_timestamp_ms: Date.parse("2020-01-01T00:00:00Z"),
      idempotency_window_ms: 86_400_000,
      idempotency_window_events: 2_000_000,
    });
    expect(c.api_keys[0]).toEqual({ name: "bot-ingest", hash: HASH, scopes: ["ingest"], projects: ["support-bot"] });
    expect(Object.isFrozen(c.api_keys[0])).toBe(true);
    expect(c.pricing.discounts).toEqual({ openai: "10" });
  });

  it("names the file, line, column, key path and reason of every problem", () => {
    const text = `projects:
  - name: a
api_keys:
  - name: k
    hash: plaintext-key
    scopes: [write]
    projects: [b]
servr: {}
`;
    let message = "";
    try {
      parseConfig(text, "costtrail.yaml");
    } catch (e) {
      expect((e as { code: string }).code).toBe("CT_INVALID_CONFIG");
      message = (e as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "costtrail.yaml:8:1 servr: is not a known section; expected one of version, server, projects, api_keys, pricing, gateway, budgets, counters, agent_runs, alerts",
      "costtrail.yaml:5:11 api_keys[0].hash: must be sha256:<64 hex digits>; `costtrail keys hash <key>` prints it",
      "costtrail.yaml:6:13 api_keys[0].scopes: must be a non-empty list of ingest, read, admin",
      'costtrail.yaml:7:16 api_keys[0].projects[0]: names no project declared under projects: "b"',
    ]);
  });

  it("refuses server settings that are not positive integers, and unknown ones", () => {
    expect(() => parseConfig("server:\n  segment_events: 0\n  segments: 3\n", "costtrail.yaml")).toThrow(
      /costtrail\.yaml:2:19 server\.segment_events: must be a positive integer[\s\S]*server\.segments: is not a known field; expected memory_limit, body_limit_bytes, max_pending_events, segment_events, idempotency_window_events, max_future_skew, idempotency_window, min_timestamp/,
    );
  });

  it("reads server.memory_limit as a size, and derives DuckDB's share, the segment size and the pending bound from it unless they are set", () => {
    const at = (text: string) => parseConfig(text, "costtrail.yaml").server;
    // The default: 1 GiB.
    expect(at("")).toMatchObject({ memory_limit_bytes: 2 ** 30, segment_events: 178_956, max_pending_events: 41_943 });
    expect(memoryPlan(2 ** 30)).toEqual({ duckdbBytes: 429_496_729, segmentEvents: 178_956, maxPendingEvents: 41_943 });
    expect(at("server:\n  memory_limit: 512MiB\n")).toMatchObject({
      memory_limit_bytes: 512 * 2 ** 20,
      segment_events: 89_478,
      max_pending_events: 20_971,
    });
    expect(at("server:\n  memory_limit: 1.5GB\n  segment_events: 250000\n")).toMatchObject({
      memory_limit_bytes: 1_500_000_000,
      segment_events: 250_000,
      max_pending_events: 58_593,
    });
    expect(at("server:\n  memory_limit: 8GiB\n")).toMatchObject({ segment_events: 500_000, max_pending_events: 200_000 });
    expect(at(`server:\n  memory_limit: ${2 ** 30}\n`).memory_limit_bytes).toBe(2 ** 30);
    for (const bad of ["100MiB", "lots", "1 GiB per core", "-1GiB", "0"])
      expect(() => parseConfig(`server:\n  memory_limit: ${bad}\n`, "costtrail.yaml")).toThrow(
        /costtrail\.yaml:2:17 server\.memory_limit: must be a size of at least 256MiB such as "1GiB", "768MiB" or "2GB", got /,
      );
  });

  it("reads the event time window: a future skew as a duration and a floor as a date or time", () => {
    const at = (text: string) => parseConfig(text, "costtrail.yaml").server;
    expect(at("server:\n  max_future_skew: 90m\n  min_timestamp: 2023-03-01\n")).toMatchObject({
      max_future_skew_ms: 90 * 60_000,
      min_timestamp_ms: Date.parse("2023-03-01T00:00:00Z"),
    });
    expect(at('server:\n  max_future_skew: "7d"\n  min_timestamp: "2024-06-01T12:00:00+02:00"\n')).toMatchObject({
      max_future_skew_ms: 7 * 86_400_000,
      min_timestamp_ms: Date.parse("2024-06-01T10:00:00Z"),
    });
    expect(at("server:\n  max_future_skew: 30s\n").max_future_skew_ms).toBe(30_000);
  });

  it("reads how long and how many ids are remembered to catch a reused id", () => {
    const server = parseConfig("server:\n  idempotency_window: 72h\n  idempotency_window_events: 5000000\n", "costtrail.yaml").server;
    expect(server).toMatchObject({ idempotency_window_ms: 72 * 3_600_000, idempotency_window_events: 5_000_000 });
    expect(() => parseConfig("server:\n  idempotency_window: forever\n", "costtrail.yaml")).toThrow(
      /costtrail\.yaml:2:23 server\.idempotency_window: must be a duration/,
    );
  });

  it("refuses a future skew that is not a duration, naming the line and the form", () => {
    let message = "";
    try {
      parseConfig("server:\n  max_future_skew: 24\n  body_limit_bytes: 1000\n", "costtrail.yaml");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      'costtrail.yaml:2:20 server.max_future_skew: must be a duration such as "24h", "90m" or "7d" (a whole number of s, m, h or d, at most 3650d), got 24',
    );
    for (const bad of ["0h", "1.5h", "24 h", "1w", "3651d", "-1h"]) {
      expect(() => parseConfig(`server:\n  max_future_skew: "${bad}"\n`, "c.yaml")).toThrow(
        /c\.yaml:2:20 server\.max_future_skew: must be a duration/,
      );
    }
  });

  it("refuses a floor that is not a real date or a time with a zone", () => {
    for (const bad of ["2020-02-30", "2020-01-01T00:00:00", "01/01/2020", "yesterday"]) {
      expect(() => parseConfig(`server:\n  min_timestamp: "${bad}"\n`, "c.yaml")).toThrow(
        `c.yaml:2:18 server.min_timestamp: must be a date such as "2020-01-01" or an ISO-8601 time with a zone such as "2020-01-01T00:00:00Z", got "${bad}"`,
      );
    }
  });

  it("reports YAML syntax errors with their position", () => {
    expect(() => parseConfig("pricing:\n  models: [\n", "c.yaml")).toThrow(/^c\.yaml:\d+:\d+ /);
  });

  it("says when the file is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-conf-"));
    await expect(loadConfig(join(dir, "nope.yaml"))).rejects.toMatchObject({
      code: "CT_INVALID_CONFIG",
      message: expect.stringContaining("file not found"),
    });
    await writeFile(join(dir, "ok.json"), '{"version": 1}');
    await expect(loadConfig(join(dir, "ok.json"))).resolves.toMatchObject({ api_keys: [] });
  });
});

describe("the gateway section", () => {
  it("reads upstreams, timeout, limits and virtual keys, with defaults for the rest", () => {
    const c = parseConfig(
      `gateway:
  upstreams: { openai: "http://127.0.0.1:9000/v1/" }
  timeout: 30s
  virtual_keys:
    - { name: bot, hash: ${HASH}, provider: openai, provider_key_env: OPENAI_API_KEY, project: support-bot, team: support }
`,
      "costtrail.yaml",
    );
    expect(c.gateway).toEqual({
      upstreams: { openai: "http://127.0.0.1:9000/v1", anthropic: "https://api.anthropic.com" },
      timeout_ms: 30_000,
      max_body_bytes: 32 * 1024 * 1024,
      default_max_output_tokens: 4096,
      virtual_keys: [
        { name: "bot", hash: HASH, provider: "openai", provider_key_env: "OPENAI_API_KEY", project: "support-bot", team: "support" },
      ],
    });
  });

  it("names the field and the reason of each problem", () => {
    let message = "";
    try {
      parseConfig(
        `gateway:
  upstreams: { openai: "ftp://x", gemini: "https://x" }
  timeout: forever
  virtual_keys:
    - { name: bot, hash: sha256:abc, provider: cohere, provider_key_env: "1BAD", colour: red }
`,
        "costtrail.yaml",
      );
    } catch (e) {
      message = (e as Error).message;
    }
    for (const expected of [
      'gateway.upstreams.openai: must be an http or https URL, got "ftp://x"',
      "gateway.upstreams.gemini: is not a known provider; expected openai, anthropic",
      'gateway.timeout: must be a duration from 1ms to 60m, e.g. "600s"',
      "gateway.virtual_keys[0].colour: is not a known field",
      "gateway.virtual_keys[0].hash: must be sha256:<64 hex digits>",
      "gateway.virtual_keys[0].provider: must be one of openai, anthropic",
      "gateway.virtual_keys[0].provider_key_env: must name an environment variable",
    ]) {
      expect(message).toContain(expected);
    }
  });
});
