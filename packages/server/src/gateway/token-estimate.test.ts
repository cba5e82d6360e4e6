import { beforeAll, describe, expect, it } from "vitest";
import { countInputTokens, loadTokenizers } from "./token-estimate.js";

beforeAll(() => loadTokenizers());

describe("counting a request's input tokens", () => {
  it("counts OpenAI chat messages by OpenAI's recipe with the model's encoding", () => {
    // "hello world" is 2 o200k tokens and "user" 1: 3 (reply priming) + 3 + 1 + 2.
    const r = countInputTokens("openai", "openai.chat", { model: "gpt-4o", messages: [{ role: "user", content: "hello world" }] });
    expect(r).toEqual({ tokens: 9, method: "tokenizer" });
    const named = countInputTokens("openai", "openai.chat", {
      model: "gpt-4o",
      messages: [{ role: "user", content: "hello world", name: "ann" }],
    });
    expect(named.tokens).toBeGreaterThan(9);
  });

  it("adds tool definitions, earlier tool calls and structured output", () => {
    const base = { model: "gpt-4o-2024-08-06", messages: [{ role: "user", content: "Where is order 4412?" }] };
    const plain = countInputTokens("openai", "openai.chat", base).tokens;
    const tools = [
      {
        type: "function",
        function: {
          name: "lookup_order",
          description: "Finds an order.",
          parameters: { type: "object", properties: { order_id: { type: "string", description: "The order number" } } },
        },
      },
    ];
    const withTools = countInputTokens("openai", "openai.chat", { ...base, tools }).tokens;
    // 7 per function + "lookup_order:Finds an order" + 3 + 3 per parameter + "order_id:string:The order number" + 12.
    expect(withTools - plain).toBeGreaterThan(25);
    expect(withTools - plain).toBeLessThan(45);
    const turn = {
      ...base,
      messages: [
        ...base.messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "lookup_order", arguments: '{"order_id":"4412"}' } }],
        },
      ],
    };
    expect(countInputTokens("openai", "openai.chat", turn).tokens).toBeGreaterThan(plain + 8);
    const structured = countInputTokens("openai", "openai.chat", {
      ...base,
      response_format: { type: "json_schema", json_schema: {} },
    }).tokens;
    expect(structured).toBe(plain + 3);
  });

  it("uses cl100k for GPT-4 and the v3 embeddings, and counts embedding inputs without overhead", () => {
    expect(
      countInputTokens("openai", "openai.embeddings", { model: "text-embedding-3-small", input: ["hello world", "hello world"] }),
    ).toEqual({
      tokens: 4,
      method: "tokenizer",
    });
    expect(countInputTokens("openai", "openai.embeddings", { model: "text-embedding-3-small", input: [[1, 2, 3]] }).tokens).toBe(3);
  });

  it("counts Claude requests by the calibration, with the hidden cost of offering tools", () => {
    const text = {
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: "What does section 9.2 of the contract say about renewal?" }],
    };
    const plain = countInputTokens("anthropic", "anthropic.messages", text);
    expect(plain.method).toBe("calibrated");
    const tools = [
      { name: "read_section", description: "Reads a section", input_schema: { type: "object", properties: { n: { type: "string" } } } },
    ];
    const newer = countInputTokens("anthropic", "anthropic.messages", { ...text, tools }).tokens;
    const older = countInputTokens("anthropic", "anthropic.messages", { ...text, model: "claude-sonnet-4-20250514", tools }).tokens;
    expect(newer - plain.tokens).toBeGreaterThan(530);
    expect(newer - older).toBe(190);
    expect(countInputTokens("anthropic", "anthropic.messages", { ...text, model: "claude-3-5-sonnet-20241022", tools }).tokens).toBe(older);
  });

  it("falls back to four characters a token for models without a known tokenizer", () => {
    expect(
      countInputTokens("openai", "openai.chat", { model: "llama-3.1-70b", messages: [{ role: "user", content: "x".repeat(400) }] }),
    ).toEqual({
      tokens: 101,
      method: "characters",
    });
  });
});
