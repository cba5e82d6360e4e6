import type AnthropicClass from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { useLedgerHarness } from "../harness.js";

type AnthropicCtor = typeof AnthropicClass;

/** The Anthropic wrapping scenarios, for whichever major of @anthropic-ai/sdk is passed in. */
export function anthropicScenarios(Anthropic: AnthropicCtor, version: string): void {
  describe(`wrapping @anthropic-ai/sdk ${version}`, () => {
    const h = useLedgerHarness(`anthropic-${version}`);

    const client = (options: ConstructorParameters<AnthropicCtor>[0] = {}) =>
      new Anthropic({ apiKey: "sk-ant-test-not-a-real-key", baseURL: h.fake.url, maxRetries: 0, ...options });
    const request = {
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      messages: [{ role: "user" as const, content: "What does section 9.2 say?" }],
    };

    it("records a message with cache writes and reads at their own rates", async () => {
      const plain = await client().messages.create(request);
      const { result, rows } = await h.recorded({ team: "legal" }, () => h.ct.wrap(client()).messages.create(request));
      expect(result).toEqual(plain);
      expect(rows).toHaveLength(1);
      // 24 input × $3 + 2,048 cache writes × $3.75 + 6,000 cache reads × $0.30 + 310 output × $15, per million.
      expect(rows[0]).toMatchObject({
        cost_usd: "0.014202",
        provider: "anthropic",
        model: "claude-sonnet-4-5-20250929",
        api: "anthropic.messages",
        team: "legal",
        input_tokens: 24,
        cache_write_5m_tokens: 2048,
        cache_read_tokens: 6000,
        output_tokens: 310,
      });
      expect(rows[0]?.tags).toMatchObject({ requested_model: "claude-sonnet-4-5" });
    });

    it("records a streamed message from create({ stream: true })", async () => {
      const { result, rows } = await h.recorded({ team: "legal" }, async () => {
        let text = "";
        for await (const ev of await h.ct.wrap(client()).messages.create({ ...request, model: "claude-haiku-4-5", stream: true })) {
          if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") text += ev.delta.text;
        }
        return text;
      });
      expect(result).toBe("Section 9.2 gives 60 days notice before renewal.");
      // 410 input × $1 + 57 output × $5, per million.
      expect(rows[0]).toMatchObject({ cost_usd: "0.000695", streamed: true, status: "ok", model: "claude-haiku-4-5-20251001" });
      expect(rows[0]?.ttft_ms).toEqual(expect.any(Number));
    });

    it("records messages.stream() and its final message", async () => {
      const { result, rows } = await h.recorded({ team: "legal" }, async () => {
        const stream = h.ct.wrap(client()).messages.stream({ ...request, model: "claude-haiku-4-5" });
        return stream.finalMessage();
      });
      expect(result.usage.output_tokens).toBe(57);
      expect(rows[0]).toMatchObject({ cost_usd: "0.000695", streamed: true });
    });

    it("records a stream aborted through the client with the usage known so far", async () => {
      h.fake.eventDelayMs = 20;
      try {
        const { result, rows } = await h.recorded({ team: "legal" }, async () => {
          const stream = h.ct.wrap(client()).messages.stream({ ...request, model: "claude-haiku-4-5" });
          let deltas = 0;
          stream.on("text", () => {
            deltas++;
            if (deltas === 2) stream.abort();
          });
          return stream.done().then(
            () => "finished",
            (err: Error) => err.constructor.name,
          );
        });
        expect(result).toBe("APIUserAbortError");
        // message_start's 410 input × $1 and its provisional 1 output × $5, per million.
        expect(rows[0]).toMatchObject({ status: "aborted", input_tokens: 410, output_tokens: 1, cost_usd: "0.000415" });
      } finally {
        h.fake.eventDelayMs = 2;
      }
    });

    it("records each attempt through a 429 and a 529", async () => {
      h.fake.script(
        "/v1/messages",
        {
          kind: "status",
          status: 429,
          body: { type: "error", error: { type: "rate_limit_error", message: "Number of requests has exceeded your rate limit" } },
          headers: { "retry-after-ms": "5" },
        },
        {
          kind: "status",
          status: 529,
          body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
          headers: { "retry-after-ms": "5" },
        },
      );
      const { rows } = await h.recorded({ team: "legal" }, () => h.ct.wrap(client({ maxRetries: 2 })).messages.create(request));
      expect(rows.map((r) => [r.attempt, r.status, r.error_type ?? null, r.cost_usd])).toEqual([
        [1, "error", "429 rate_limit_error", "0"],
        [2, "error", "529 overloaded_error", "0"],
        [3, "ok", null, "0.014202"],
      ]);
    });

    it("leaves count_tokens unrecorded: it is free", async () => {
      h.fake.script("/v1/messages/count_tokens", { kind: "status", status: 200, body: { input_tokens: 14 } });
      const { result, rows } = await h.recorded({ team: "legal" }, () =>
        h.ct.wrap(client()).messages.countTokens({ model: request.model, messages: request.messages }),
      );
      expect(result.input_tokens).toBe(14);
      expect(rows).toEqual([]);
    });
  });
}
