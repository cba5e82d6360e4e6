import type OpenAIClass from "openai";
import { describe, expect, it } from "vitest";
import type { LedgerRow } from "../collector.js";
import { useLedgerHarness } from "../harness.js";

type OpenAICtor = typeof OpenAIClass;

/**
 * The OpenAI wrapping scenarios, run against whichever major of the `openai` package the caller
 * passes in: the previous major on Node 20, the current one on Node 24.
 */
export function openaiScenarios(OpenAI: OpenAICtor, version: string): void {
  describe(`wrapping openai ${version}`, () => {
    const h = useLedgerHarness(`openai-${version}`);

    const client = (options: ConstructorParameters<OpenAICtor>[0] = {}) =>
      new OpenAI({ apiKey: "sk-test-not-a-real-key", baseURL: `${h.fake.url}/v1`, maxRetries: 0, ...options });

    /** Runs `fn` under a feature of its own and answers the ledger rows it left. */

    it("records a chat completion with its exact cost, and returns what the unwrapped client returns", async () => {
      const params = { model: "gpt-4o", messages: [{ role: "user" as const, content: "Where is my refund?" }] };
      const plain = await client().chat.completions.create(params);
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, () =>
        h.ct.wrap(client()).chat.completions.create(params),
      );
      expect(result).toEqual(plain);
      expect(rows).toHaveLength(1);
      const row = rows[0] as LedgerRow;
      // 176 uncached × $2.50 + 1,024 cached × $1.25 + 300 output × $10, per million.
      expect(row.cost_usd).toBe("0.00472");
      expect(row).toMatchObject({
        provider: "openai",
        model: "gpt-4o-2024-08-06",
        api: "openai.chat",
        status: "ok",
        attempt: 1,
        streamed: false,
        project: `openai-${version}`,
        user_id: "u_42",
        customer_id: "acme",
        input_tokens: 176,
        cache_read_tokens: 1024,
        output_tokens: 300,
      });
      expect(row.tags).toMatchObject({ requested_model: "gpt-4o" });
      expect(row.latency_ms).toEqual(expect.any(Number));
    });

    it("asks a chat stream for its usage without changing the chunks the caller iterates", async () => {
      const params = { model: "gpt-4o", stream: true as const, messages: [{ role: "user" as const, content: "Refund?" }] };
      const plainChunks: unknown[] = [];
      for await (const c of await client().chat.completions.create(params)) plainChunks.push(c);
      const before = h.fake.requests.length;
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, async () => {
        const chunks: unknown[] = [];
        for await (const c of await h.ct.wrap(client()).chat.completions.create(params)) chunks.push(c);
        return chunks;
      });
      expect(result).toEqual(plainChunks);
      expect(result.some((c) => Object.hasOwn(c as object, "usage"))).toBe(false);
      expect(h.fake.requests[before]?.body.stream_options).toEqual({ include_usage: true });
      expect(rows).toHaveLength(1);
      // 128 uncached × $2.50 + 1,920 cached × $1.25 + 12 output × $10, per million.
      expect(rows[0]?.cost_usd).toBe("0.00284");
      expect(rows[0]).toMatchObject({ streamed: true, status: "ok", model: "gpt-4o-2024-08-06", output_tokens: 12 });
      expect(rows[0]?.ttft_ms).toEqual(expect.any(Number));
      expect(Number(rows[0]?.ttft_ms)).toBeLessThanOrEqual(Number(rows[0]?.latency_ms));
    });

    it("leaves a stream that asked for usage itself as it came", async () => {
      const params = {
        model: "gpt-4o",
        stream: true as const,
        stream_options: { include_usage: true },
        messages: [{ role: "user" as const, content: "Refund?" }],
      };
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, async () => {
        const chunks: Array<{ usage?: unknown; choices: unknown[] }> = [];
        for await (const c of await h.ct.wrap(client()).chat.completions.create(params)) chunks.push(c);
        return chunks;
      });
      expect(result.at(-1)?.choices).toEqual([]);
      expect(result.at(-1)?.usage).toMatchObject({ prompt_tokens: 2048 });
      expect(rows[0]?.cost_usd).toBe("0.00284");
    });

    it("records tool calls, plain and streamed", async () => {
      const tools = [
        {
          type: "function" as const,
          function: { name: "lookup_order", parameters: { type: "object", properties: { order_id: { type: "string" } } } },
        },
      ];
      const messages = [{ role: "user" as const, content: "Where is order 4412?" }];
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, async () => {
        const wrapped = h.ct.wrap(client());
        const plain = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
        let args = "";
        for await (const c of await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true })) {
          args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
        }
        return { plain, args };
      });
      expect(result.plain.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: "lookup_order" } });
      expect(result.args).toBe('{"order_id":"4412"}');
      expect(rows).toHaveLength(2);
      // 85 input × $0.15 + 18 output × $0.60, per million, each.
      expect(rows.map((r) => r.cost_usd)).toEqual(["0.00002355", "0.00002355"]);
      expect(rows.map((r) => r.streamed).sort()).toEqual([false, true]);
    });

    it("records Responses calls, plain and streamed, reasoning tokens included", async () => {
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, async () => {
        const wrapped = h.ct.wrap(client());
        const plain = await wrapped.responses.create({ model: "gpt-5-mini", input: "When does 4412 ship?" });
        let text = "";
        for await (const ev of await wrapped.responses.create({ model: "gpt-5-mini", input: "When?", stream: true })) {
          if (ev.type === "response.output_text.delta") text += ev.delta;
        }
        return { plain, text };
      });
      expect(result.plain.output_text).toContain("Leipzig");
      expect(result.text).toBe("Order #4412 ships Thursday.");
      const byStream = new Map(rows.map((r) => [r.streamed, r]));
      // 476 uncached × $0.25 + 1,024 cached × $0.025 + 620 output (448 of them reasoning) × $2, per million.
      expect(byStream.get(false)).toMatchObject({ cost_usd: "0.0013846", api: "openai.responses", reasoning_tokens: 448 });
      // 42 input × $0.25 + 96 output × $2, per million.
      expect(byStream.get(true)).toMatchObject({ cost_usd: "0.0002025", model: "gpt-5-mini-2025-08-07" });
    });

    it("records embeddings", async () => {
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, () =>
        h.ct.wrap(client()).embeddings.create({ model: "text-embedding-3-small", input: "refund policy" }),
      );
      expect(result.data[0]?.embedding).toHaveLength(8);
      // 8 tokens × $0.02 per million.
      expect(rows[0]).toMatchObject({ cost_usd: "0.00000016", api: "openai.embeddings", operation: "embedding" });
    });

    it("records each attempt of a call the client retries after two 429s", async () => {
      const rateLimited = {
        kind: "status" as const,
        status: 429,
        body: { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded", param: null } },
        headers: { "retry-after-ms": "5" },
      };
      h.fake.script("/v1/chat/completions", rateLimited, rateLimited);
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, () =>
        h.ct.wrap(client({ maxRetries: 2 })).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Refund?" }] }),
      );
      expect(result.choices[0]?.finish_reason).toBe("stop");
      expect(rows.map((r) => [r.attempt, r.status, r.error_type ?? null, r.cost_usd])).toEqual([
        [1, "error", "429 requests", "0"],
        [2, "error", "429 requests", "0"],
        [3, "ok", null, "0.00472"],
      ]);
    });

    it("records a stream the caller abandons as aborted, with the output it saw", async () => {
      h.fake.eventDelayMs = 20;
      try {
        const cancelledBefore = h.fake.cancelledStreams;
        const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, async () => {
          let seen = 0;
          const stream = await h.ct
            .wrap(client())
            .chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "Refund?" }] });
          for await (const c of stream) {
            if (c.choices[0]?.delta.content) seen++;
            if (seen === 3) break;
          }
          return seen;
        });
        expect(result).toBe(3);
        await expect.poll(() => h.fake.cancelledStreams).toBe(cancelledBefore + 1);
        expect(rows).toHaveLength(1);
        // Chat streams report usage only at the end: the output seen is counted, one token an event.
        expect(rows[0]).toMatchObject({ status: "aborted", error_type: "aborted", output_tokens: 3, cost_usd: "0.00003" });
        expect(rows[0]?.tags).toMatchObject({ usage_estimated: "output_from_stream_events" });
      } finally {
        h.fake.eventDelayMs = 2;
      }
    });

    it("records a timed-out attempt as a timeout, also under a second", async () => {
      h.fake.script("/v1/chat/completions", { kind: "hang" });
      const { result, rows } = await h.recorded({ userId: "u_42", customerId: "acme" }, () =>
        h.ct
          .wrap(client({ timeout: 500 }))
          .chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Refund?" }] })
          .then(
            () => "answered",
            (err: Error) => err.constructor.name,
          ),
      );
      expect(result).toBe("APIConnectionTimeoutError");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "error", error_type: "timeout", attempt: 1, cost_usd: "0" });
      expect(Number(rows[0]?.latency_ms)).toBeGreaterThanOrEqual(450);
    });
  });
}
