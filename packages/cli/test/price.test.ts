import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCosttrail } from "./run-costtrail.js";

/** Runs the built `costtrail` binary. */
function costtrail(...args: string[]) {
  return runCosttrail(args);
}

const CACHED_CHAT = JSON.stringify({ prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } });

describe("costtrail price", () => {
  it("prints each bucket with its rate, the rate card entry and the exact total", async () => {
    const r = await costtrail(
      "price",
      "--api",
      "openai.chat",
      "--model",
      "gpt-4o-2024-08-06",
      "--usage",
      CACHED_CHAT,
      "--at",
      "2026-11-20T10:00:00Z",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("rate card entry: genai-prices@0.1.8:openai/gpt-4o");
    expect(r.stdout).toMatch(/cache_read_tokens\s+1024\s+1\.25 per 1M\s+0\.00128/);
    expect(r.stdout).toContain("total: $0.00472 (computed)");
  });

  it("prints one JSON object with --json", async () => {
    const r = await costtrail(
      "price",
      "--api",
      "openai.chat",
      "--model",
      "gpt-4o",
      "--usage",
      CACHED_CHAT,
      "--at",
      "2026-11-20T10:00:00Z",
      "--json",
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      status: "priced",
      cost_usd: "0.00472",
      cost_source: "computed",
      rate_card: { id: "genai-prices@0.1.8:openai/gpt-4o", effective_from: null, source: "genai-prices@0.1.8" },
    });
    expect(out.buckets).toEqual([
      { bucket: "input_tokens", quantity: 176, rate_key: "input_mtok", rate: "2.5", per: 1000000, cost_usd: "0.00044" },
      { bucket: "cache_read_tokens", quantity: 1024, rate_key: "cache_read_mtok", rate: "1.25", per: 1000000, cost_usd: "0.00128" },
      { bucket: "output_tokens", quantity: 300, rate_key: "output_mtok", rate: "10", per: 1000000, cost_usd: "0.003" },
    ]);
  });

  it("prices by the entry in force at --at and shows its effective date", async () => {
    const usage = JSON.stringify({ input_tokens: 2000, output_tokens: 1000 });
    const before = JSON.parse(
      (await costtrail("price", "--api", "openai.responses", "--model", "o3", "--usage", usage, "--at", "2025-06-01T00:00:00Z", "--json"))
        .stdout,
    );
    const after = await costtrail("price", "--api", "openai.responses", "--model", "o3", "--usage", usage, "--at", "2025-07-01T00:00:00Z");
    expect(before.cost_usd).toBe("0.06");
    expect(after.stdout).toContain("effective from: 2025-06-10");
    expect(after.stdout).toContain("total: $0.012");
  });

  it("applies --batch and shows the multiplier", async () => {
    const r = await costtrail(
      "price",
      "--api",
      "anthropic.messages",
      "--model",
      "claude-opus-4-1",
      "--usage",
      '{"input_tokens":10000,"output_tokens":2000}',
      "--batch",
      "--json",
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ cost_usd: "0.15", modifiers: [{ kind: "batch", multiplier: "0.5" }] });
  });

  it("reports an unknown model as unpriced with a null cost", async () => {
    const r = await costtrail(
      "price",
      "--api",
      "openai.chat",
      "--model",
      "my-own-model",
      "--provider",
      "acme",
      "--usage",
      CACHED_CHAT,
      "--json",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "unpriced", cost_usd: null, rate_card: null });
  });

  it("prices a custom model from --config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-cli-"));
    const file = join(dir, "costtrail.yaml");
    await writeFile(
      file,
      'pricing:\n  models:\n    - provider: acme\n      model: my-own-model\n      rates:\n        input_mtok: 0.50\n        output_mtok: "1.50"\n',
    );
    const r = await costtrail(
      "price",
      "--api",
      "openai.chat",
      "--model",
      "my-own-model",
      "--provider",
      "acme",
      "--usage",
      '{"prompt_tokens":2000,"completion_tokens":1000}',
      "--config",
      file,
      "--json",
    );
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: "priced",
      cost_usd: "0.0025",
      rate_card: { id: "config:acme/my-own-model", source: "config" },
    });
  });

  it("points at the file, line and key of a bad config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-cli-"));
    const file = join(dir, "costtrail.yaml");
    await writeFile(file, "pricing:\n  models:\n    - provider: acme\n      model: x\n      rates:\n        input_mtok: cheap\n");
    const r = await costtrail("price", "--api", "openai.chat", "--model", "x", "--usage", CACHED_CHAT, "--config", file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:6:21 pricing.models[0].rates.input_mtok: must be a decimal such as "2.50", got "cheap"`);
  });

  it("exits non-zero with field-level errors for malformed usage", async () => {
    const r = await costtrail(
      "price",
      "--api",
      "openai.chat",
      "--model",
      "gpt-4o",
      "--usage",
      '{"prompt_tokens":-1,"completion_tokens":2.5}',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage.prompt_tokens: must be a non-negative integer, got -1");
    expect(r.stderr).toContain("usage.completion_tokens: must be a non-negative integer, got 2.5");
  });

  it("exits non-zero for usage that is not JSON, an unknown API and a bad --at", async () => {
    const notJson = await costtrail("price", "--api", "openai.chat", "--model", "gpt-4o", "--usage", "{prompt_tokens: 1}");
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain("--usage: is not valid JSON");
    const api = await costtrail("price", "--api", "cohere", "--model", "x", "--usage", "{}");
    expect(api.code).toBe(2);
    expect(api.stderr).toContain("--api: must be one of openai.chat");
    const at = await costtrail("price", "--api", "openai.chat", "--model", "gpt-4o", "--usage", CACHED_CHAT, "--at", "yesterday");
    expect(at.code).toBe(2);
    expect(at.stderr).toContain("--at: must be an ISO-8601 time");
  });

  it("exits non-zero for an unknown flag or a missing required one", async () => {
    const unknown = await costtrail("price", "--api", "openai.chat", "--model", "gpt-4o", "--usage", CACHED_CHAT, "--colour");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("unknown option '--colour'");
    const missing = await costtrail("price", "--api", "openai.chat");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("required option '--model <model>' not specified");
  });
});
