import { describe, expect, it } from "vitest";
import { eventData, fixture } from "../../test/fixtures.js";
import { APIS } from "../event/usage-event.js";
import { normalizeUsage } from "./normalize-usage.js";

function ok(api: string, raw: unknown) {
  const r = normalizeUsage(api, raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

function issues(api: string, raw: unknown) {
  const r = normalizeUsage(api, raw);
  if (r.ok) throw new Error(`expected issues, got ${JSON.stringify(r.value)}`);
  return r.issues;
}

describe("OpenAI Chat Completions", () => {
  it("takes cached tokens out of prompt_tokens instead of counting them twice", () => {
    expect(ok("openai.chat", fixture("openai-chat/cached-tokens-gpt-5.6").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 4012,
          "input_tokens": 8,
          "output_tokens": 4,
        },
        "units": {},
      }
    `);
  });

  it("splits audio input out of prompt_tokens", () => {
    expect(ok("openai.chat", fixture("openai-chat/audio-input-gpt-4o-audio-preview").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_audio_tokens": 44,
          "input_tokens": 20,
          "output_tokens": 9,
        },
        "units": {},
      }
    `);
    expect(ok("openai.chat", fixture("openai-chat/audio-url-input-gpt-4o-audio-preview").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_audio_tokens": 69,
          "input_tokens": 12,
          "output_tokens": 72,
        },
        "units": {},
      }
    `);
  });

  it("splits reasoning tokens out of completion_tokens", () => {
    expect(ok("openai.chat", fixture("openai-chat/reasoning-o3-mini").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 13,
          "output_tokens": 46,
          "reasoning_tokens": 192,
        },
        "units": {},
      }
    `);
  });

  it("reads older bodies without prompt_tokens_details", () => {
    expect(ok("openai.chat", fixture("openai-chat/legacy-2024-no-prompt-details").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 14,
          "output_tokens": 37,
        },
        "units": {},
      }
    `);
  });

  it("reads a body whose details are all zero", () => {
    expect(ok("openai.chat", fixture("openai-chat/spec-default-all-details-zero").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 19,
          "output_tokens": 10,
        },
        "units": {},
      }
    `);
  });

  it("reads the final streaming chunk that carries usage with empty choices", () => {
    for (const name of ["openai-chat-stream/include-usage-2024-gpt-4o", "openai-chat-stream/include-usage-2025-gpt-4o"]) {
      const chunks = eventData(fixture(name));
      const last = chunks.at(-1) as Record<string, unknown>;
      expect(last.choices).toEqual([]);
      const u = ok("openai.chat", last);
      const usage = last.usage as { prompt_tokens: number; completion_tokens: number };
      expect((u.buckets.input_tokens ?? 0) + (u.buckets.cache_read_tokens ?? 0)).toBe(usage.prompt_tokens);
      expect((u.buckets.output_tokens ?? 0) + (u.buckets.reasoning_tokens ?? 0)).toBe(usage.completion_tokens);
    }
  });

  it("splits audio output and reasoning together (hand-made from the spec's field list)", () => {
    expect(
      ok("openai.chat", {
        prompt_tokens: 2000,
        completion_tokens: 900,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 300 },
        completion_tokens_details: { reasoning_tokens: 200, audio_tokens: 500 },
      }).buckets,
    ).toEqual({
      input_tokens: 676,
      cache_read_tokens: 1024,
      input_audio_tokens: 300,
      output_tokens: 200,
      reasoning_tokens: 200,
      output_audio_tokens: 500,
    });
  });

  it("reads a router's reported cost exactly, up to one million dollars", () => {
    expect(ok("openai.chat", { prompt_tokens: 10, completion_tokens: 1, cost: 0.00014 }).reportedCost).toBe("0.00014");
    expect(ok("openai.chat", { prompt_tokens: 10, completion_tokens: 1, cost: 1e6 }).reportedCost).toBe("1000000");
  });

  it("rejects a reported cost above one million dollars or finer than twelve decimals, saying the bound", () => {
    const at = (cost: unknown) => issues("openai.chat", { prompt_tokens: 10, completion_tokens: 1, cost }).map((i) => [i.code, i.message]);
    expect(at(1e40)).toEqual([["too_large", "must be at most 1000000 USD, the most one event may cost; got 1e+40"]]);
    expect(at("1000000.5")).toEqual([["too_large", 'must be at most 1000000 USD, the most one event may cost; got "1000000.5"']]);
    expect(at(1e-13)).toEqual([["invalid_format", "must have at most 12 decimal places, got 1e-13"]]);
    expect(at(1e-300)).toEqual([["invalid_format", "must have at most 12 decimal places, got 1e-300"]]);
    expect(at(1e300)[0]?.[0]).toBe("too_large");
  });

  it("rejects cached tokens larger than prompt_tokens, naming the field", () => {
    expect(
      issues("openai.chat", { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 20 } }),
    ).toMatchInlineSnapshot(`
      [
        {
          "code": "inconsistent",
          "message": "is 20, more than prompt_tokens (10) which includes it",
          "path": [
            "raw_usage",
            "prompt_tokens_details",
          ],
        },
      ]
    `);
  });
});

describe("OpenAI Responses API", () => {
  it("takes cached tokens out of input_tokens and reasoning out of output_tokens", () => {
    expect(ok("openai.responses", fixture("openai-responses/cached-reasoning-web-search-gpt-5").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 8448,
          "input_tokens": 851,
          "output_tokens": 65,
          "reasoning_tokens": 512,
        },
        "units": {},
      }
    `);
    expect(ok("openai.responses", fixture("openai-responses/spec-reasoning-o1").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 81,
          "output_tokens": 203,
          "reasoning_tokens": 832,
        },
        "units": {},
      }
    `);
  });

  it("reads cache_write_tokens as a cache write inside input_tokens", () => {
    expect(ok("openai.responses", fixture("openai-responses/cached-with-cache-write-field").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 4012,
          "input_tokens": 8,
          "output_tokens": 5,
        },
        "units": {},
      }
    `);
  });

  it("reads the usage of the response.completed stream event", () => {
    const events = eventData(fixture("openai-responses-stream/reasoning-usage"));
    const done = events.find((e) => e.type === "response.completed") as { response: Record<string, unknown> };
    expect(ok("openai.responses", done.response)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 53,
          "output_tokens": 21,
          "reasoning_tokens": 448,
        },
        "units": {},
      }
    `);
  });
});

describe("OpenAI embeddings", () => {
  it("bills prompt_tokens as input", () => {
    expect(ok("openai.embeddings", fixture("openai-embeddings/text-embedding-3-small-base64").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 2,
        },
        "units": {},
      }
    `);
    expect(ok("openai.embeddings", fixture("openai-embeddings/spec-ada-002-float").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 8,
        },
        "units": {},
      }
    `);
  });
});

describe("Anthropic Messages", () => {
  it("keeps input_tokens as is, since Anthropic reports cache reads and writes beside it", () => {
    expect(ok("anthropic.messages", fixture("anthropic-messages/cache-read-and-write-5m").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 1111,
          "cache_write_5m_tokens": 418,
          "input_tokens": 3,
          "output_tokens": 33,
        },
        "units": {},
      }
    `);
    expect(ok("anthropic.messages", fixture("anthropic-messages/cache-read-only").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 1111,
          "input_tokens": 3,
          "output_tokens": 406,
        },
        "units": {},
      }
    `);
    expect(ok("anthropic.messages", fixture("anthropic-messages/plain").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 32,
          "output_tokens": 5,
        },
        "units": {},
      }
    `);
  });

  it("splits cache writes by TTL and counts web searches", () => {
    expect(
      ok("anthropic.messages", {
        input_tokens: 50,
        output_tokens: 100,
        cache_read_input_tokens: 1000,
        cache_creation_input_tokens: 500,
        cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 300 },
        server_tool_use: { web_search_requests: 2 },
      }),
    ).toEqual({
      buckets: { input_tokens: 50, cache_read_tokens: 1000, cache_write_5m_tokens: 200, cache_write_1h_tokens: 300, output_tokens: 100 },
      units: { web_search_calls: 2 },
    });
    expect(ok("anthropic.messages", fixture("anthropic-messages/web-search-server-tool-use").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 8984,
          "output_tokens": 520,
        },
        "units": {
          "web_search_calls": 1,
        },
      }
    `);
  });

  it("breaks thinking tokens out of output_tokens without adding them twice", () => {
    expect(ok("anthropic.messages", fixture("anthropic-messages/thinking-tokens-cache-read-write").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 13637,
          "cache_write_5m_tokens": 7049,
          "input_tokens": 16,
          "output_tokens": 311,
          "reasoning_tokens": 33,
        },
        "units": {},
      }
    `);
  });

  it("combines message_start and an output-only message_delta (older stream shape)", () => {
    expect(
      ok("anthropic.messages", fixture("anthropic-messages-stream/legacy-delta-output-only-claude-3-7").events),
    ).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 42,
          "output_tokens": 419,
        },
        "units": {},
      }
    `);
  });

  it("takes cumulative message_delta counts as replacing message_start ones", () => {
    expect(ok("anthropic.messages", fixture("anthropic-messages-stream/cumulative-delta-simple").events)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 20,
          "output_tokens": 5,
        },
        "units": {},
      }
    `);
    expect(ok("anthropic.messages", fixture("anthropic-messages-stream/cumulative-delta-server-tool").events)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 4714,
          "output_tokens": 304,
        },
        "units": {},
      }
    `);
  });

  it("sums the iterations of a compacted message", () => {
    expect(ok("anthropic.messages", fixture("anthropic-messages-stream/compaction-iterations").events)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 55096,
          "input_tokens": 281,
          "output_tokens": 91,
        },
        "units": {},
      }
    `);
  });

  it("rejects a cache_creation split that disagrees with cache_creation_input_tokens", () => {
    expect(
      issues("anthropic.messages", {
        input_tokens: 1,
        output_tokens: 1,
        cache_creation_input_tokens: 10,
        cache_creation: { ephemeral_5m_input_tokens: 20 },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "code": "inconsistent",
          "message": "is 20, more than cache_creation_input_tokens (10) which includes it",
          "path": [
            "raw_usage",
            "cache_creation",
          ],
        },
      ]
    `);
  });
});

describe("Gemini", () => {
  it("takes cached content out of promptTokenCount and bills thoughts as reasoning", () => {
    expect(ok("gemini", fixture("gemini/cached-content-thoughts").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 3512,
          "input_tokens": 8,
          "output_tokens": 2,
          "reasoning_tokens": 42,
        },
        "units": {},
      }
    `);
  });

  it("splits audio by modality, cached and uncached", () => {
    expect(ok("gemini", fixture("gemini/cached-multimodal-video-audio-thoughts").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_audio_tokens": 1881,
          "cache_read_tokens": 15498,
          "input_audio_tokens": 36,
          "input_tokens": 298,
          "output_tokens": 68,
          "reasoning_tokens": 821,
        },
        "units": {},
      }
    `);
    expect(ok("gemini", fixture("gemini/vertex-audio-input").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_audio_tokens": 150,
          "input_tokens": 9,
          "output_tokens": 22,
        },
        "units": {},
      }
    `);
  });

  it("adds tool-use prompt tokens to input", () => {
    expect(ok("gemini", fixture("gemini/tool-use-prompt-thoughts-web-search").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 136,
          "output_tokens": 201,
          "reasoning_tokens": 213,
        },
        "units": {},
      }
    `);
    expect(ok("gemini", fixture("gemini/multimodal-image-gemini-2.0-flash").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 1817,
          "output_tokens": 5,
        },
        "units": {},
      }
    `);
  });

  it("reads the last chunk of a stream", () => {
    const chunks = eventData(fixture("gemini-stream/web-search-thoughts-tooluse"));
    expect(ok("gemini", chunks.at(-1))).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 119,
          "output_tokens": 241,
          "reasoning_tokens": 412,
        },
        "units": {},
      }
    `);
  });
});

describe("Bedrock Converse", () => {
  it("keeps inputTokens as is, since cache reads and writes are reported beside it", () => {
    expect(ok("bedrock.converse", fixture("bedrock-converse/claude-cache-read-write-ttl").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 1712,
          "cache_write_5m_tokens": 236,
          "input_tokens": 3,
          "output_tokens": 121,
        },
        "units": {},
      }
    `);
    expect(ok("bedrock.converse", fixture("bedrock-converse/claude-cache-write-ttl").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_write_5m_tokens": 1712,
          "input_tokens": 3,
          "output_tokens": 227,
        },
        "units": {},
      }
    `);
    expect(ok("bedrock.converse", fixture("bedrock-converse/nova-cache-read").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 2098,
          "input_tokens": 458,
          "output_tokens": 4,
        },
        "units": {},
      }
    `);
    expect(ok("bedrock.converse", fixture("bedrock-converse/claude-plain").body)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 29,
          "output_tokens": 6,
        },
        "units": {},
      }
    `);
  });

  it("reads the usage of a ConverseStream metadata event", () => {
    const events = fixture("bedrock-converse-stream/claude-sonnet-4-thinking").events ?? [];
    const meta = events.find((e) => e.event === "metadata")?.data;
    expect(ok("bedrock.converse", meta)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 36,
          "output_tokens": 73,
        },
        "units": {},
      }
    `);
  });
});

describe("OpenTelemetry GenAI spans", () => {
  it("takes cache reads and creation out of gen_ai.usage.input_tokens, which includes them", () => {
    expect(ok("otel", fixture("otel/span-anthropic-cache").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 1111,
          "cache_write_5m_tokens": 418,
          "input_tokens": 3,
          "output_tokens": 33,
        },
        "units": {},
      }
    `);
    expect(ok("otel", fixture("otel/span-bedrock-cache").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 1712,
          "cache_write_5m_tokens": 236,
          "input_tokens": 3,
          "output_tokens": 121,
        },
        "units": {},
      }
    `);
  });

  it("splits reasoning out of output tokens", () => {
    expect(ok("otel", fixture("otel/span-openai-responses-cached-reasoning").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 8448,
          "input_tokens": 851,
          "output_tokens": 65,
          "reasoning_tokens": 512,
        },
        "units": {},
      }
    `);
    expect(ok("otel", fixture("otel/span-gemini-cached-thoughts").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "cache_read_tokens": 3512,
          "input_tokens": 8,
          "output_tokens": 2,
          "reasoning_tokens": 42,
        },
        "units": {},
      }
    `);
  });

  it("reads the spec's example span and the deprecated attribute names", () => {
    expect(ok("otel", fixture("otel/span-openai-chat-example").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 52,
          "output_tokens": 47,
        },
        "units": {},
      }
    `);
    expect(ok("otel", fixture("otel/span-legacy-deprecated-names").attributes)).toMatchInlineSnapshot(`
      {
        "buckets": {
          "input_tokens": 52,
          "output_tokens": 47,
        },
        "units": {},
      }
    `);
  });

  it("reads OTLP JSON's string-encoded integers", () => {
    expect(ok("otel", { "gen_ai.usage.input_tokens": "1200", "gen_ai.usage.output_tokens": "30" }).buckets).toEqual({
      input_tokens: 1200,
      output_tokens: 30,
    });
  });
});

describe("the same call through each door", () => {
  it("prices one cached Anthropic call the same from the Messages API, Bedrock and an OTel span", () => {
    const anthropic = ok("anthropic.messages", {
      input_tokens: 3,
      cache_read_input_tokens: 1111,
      cache_creation_input_tokens: 418,
      output_tokens: 50,
    });
    const bedrock = ok("bedrock.converse", {
      inputTokens: 3,
      cacheReadInputTokens: 1111,
      cacheWriteInputTokens: 418,
      outputTokens: 50,
      totalTokens: 1582,
    });
    const otel = ok("otel", {
      "gen_ai.usage.input_tokens": 1532,
      "gen_ai.usage.cache_read.input_tokens": 1111,
      "gen_ai.usage.cache_creation.input_tokens": 418,
      "gen_ai.usage.output_tokens": 50,
    });
    expect(bedrock.buckets).toEqual(anthropic.buckets);
    expect(otel.buckets).toEqual(anthropic.buckets);
  });

  it("prices one cached OpenAI call the same from Chat Completions, Responses and an OTel span", () => {
    const chat = ok("openai.chat", { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } });
    const responses = ok("openai.responses", { input_tokens: 1200, output_tokens: 300, input_tokens_details: { cached_tokens: 1024 } });
    const otel = ok("otel", {
      "gen_ai.usage.input_tokens": 1200,
      "gen_ai.usage.output_tokens": 300,
      "gen_ai.usage.cache_read.input_tokens": 1024,
    });
    expect(chat.buckets).toEqual({ input_tokens: 176, cache_read_tokens: 1024, output_tokens: 300 });
    expect(responses.buckets).toEqual(chat.buckets);
    expect(otel.buckets).toEqual(chat.buckets);
  });
});

describe("malformed usage", () => {
  it("returns one field-level issue per bad field and never throws", () => {
    expect(
      issues("openai.chat", {
        prompt_tokens: -1,
        completion_tokens: 1.5,
        prompt_tokens_details: { cached_tokens: "12", audio_tokens: Number.NaN },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "code": "negative",
          "message": "must be a non-negative integer, got -1",
          "path": [
            "raw_usage",
            "prompt_tokens",
          ],
        },
        {
          "code": "not_integer",
          "message": "must be a non-negative integer, got 1.5",
          "path": [
            "raw_usage",
            "completion_tokens",
          ],
        },
        {
          "code": "not_finite",
          "message": "must be a non-negative integer, got NaN",
          "path": [
            "raw_usage",
            "prompt_tokens_details",
            "audio_tokens",
          ],
        },
        {
          "code": "inconsistent",
          "message": "is 12, more than prompt_tokens (0) which includes it",
          "path": [
            "raw_usage",
            "prompt_tokens_details",
          ],
        },
      ]
    `);
  });

  it("rejects absurd counts above 10^12", () => {
    expect(issues("anthropic.messages", { input_tokens: 1e13, output_tokens: 1 })).toMatchInlineSnapshot(`
      [
        {
          "code": "too_large",
          "message": "must be at most 1000000000000, got 10000000000000",
          "path": [
            "raw_usage",
            "input_tokens",
          ],
        },
      ]
    `);
  });

  it("rejects a missing required count and a non-object", () => {
    expect(issues("bedrock.converse", { outputTokens: 3 })).toMatchInlineSnapshot(`
      [
        {
          "code": "required",
          "message": "is required",
          "path": [
            "raw_usage",
            "inputTokens",
          ],
        },
      ]
    `);
    expect(issues("gemini", [1, 2])).toMatchInlineSnapshot(`
      [
        {
          "code": "invalid_type",
          "message": "must be an object, got an array",
          "path": [
            "raw_usage",
          ],
        },
      ]
    `);
    expect(issues("openai.chat", null)).toMatchInlineSnapshot(`
      [
        {
          "code": "invalid_type",
          "message": "must be an object, got null",
          "path": [
            "raw_usage",
          ],
        },
      ]
    `);
  });

  it("rejects an unknown API by name", () => {
    expect(issues("cohere.chat", {})).toMatchInlineSnapshot(`
      [
        {
          "code": "invalid_value",
          "message": "must be one of openai.chat, openai.responses, openai.embeddings, anthropic.messages, gemini, bedrock.converse, otel, got "cohere.chat"",
          "path": [
            "api",
          ],
        },
      ]
    `);
  });

  it("survives arbitrary junk without throwing", () => {
    const junk: unknown[] = [
      undefined,
      0,
      "x",
      true,
      [],
      { usage: "no" },
      { prompt_tokens: {} },
      { usageMetadata: [] },
      { iterations: "x", input_tokens: 1, output_tokens: 1 },
    ];
    for (const api of APIS) {
      for (const j of junk) expect(() => normalizeUsage(api, j)).not.toThrow();
    }
  });
});
