import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../src/auth/api-keys.js";
import { loadConfig, parseConfig } from "../src/config/load-config.js";

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
    expect(c.server).toEqual({ body_limit_bytes: 5_000_000, max_pending_events: 200_000, segment_events: 100_000 });
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
      "costtrail.yaml:8:1 servr: is not a known section; expected one of version, server, projects, api_keys, pricing",
      "costtrail.yaml:5:11 api_keys[0].hash: must be sha256:<64 hex digits>; `costtrail keys hash <key>` prints it",
      "costtrail.yaml:6:13 api_keys[0].scopes: must be a non-empty list of ingest, read, admin",
      'costtrail.yaml:7:16 api_keys[0].projects[0]: names no project declared under projects: "b"',
    ]);
  });

  it("refuses server settings that are not positive integers, and unknown ones", () => {
    expect(() => parseConfig("server:\n  segment_events: 0\n  segments: 3\n", "costtrail.yaml")).toThrow(
      /costtrail\.yaml:2:19 server\.segment_events: must be a positive integer[\s\S]*server\.segments: is not a known field; expected body_limit_bytes, max_pending_events, segment_events/,
    );
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
