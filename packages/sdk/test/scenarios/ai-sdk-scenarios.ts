import { describe, expect, it } from "vitest";
import { useLedgerHarness } from "../harness.js";

/** What the scenarios use of `ai` and `@ai-sdk/openai`, whichever major is installed. */
export interface AiSdk {
  readonly version: string;
  readonly specificationVersion: "v3" | "v4";
  // biome-ignore lint/suspicious/noExplicitAny: the two majors' function types differ; the scenarios call them alike.
  readonly ai: { generateText: any; streamText: any; wrapLanguageModel: any };
  // biome-ignore lint/suspicious/noExplicitAny: as above, for createOpenAI's provider.
  readonly createOpenAI: (options: { baseURL: string; apiKey: string }) => any;
}

export function aiSdkScenarios(sdk: AiSdk): void {
  describe(`Vercel AI SDK ${sdk.version} middleware`, () => {
    const h = useLedgerHarness(`ai-sdk-${sdk.version}`);

    const model = (kind: "chat" | "responses", id: string) => {
      const provider = sdk.createOpenAI({ baseURL: `${h.fake.url}/v1`, apiKey: "sk-test" });
      return sdk.ai.wrapLanguageModel({
        model: kind === "chat" ? provider.chat(id) : provider.responses(id),
        middleware: h.ct.aiSdkMiddleware({ specificationVersion: sdk.specificationVersion }),
      });
    };

    it("records generateText on a chat model with the provider's raw usage and its exact cost", async () => {
      const { result, rows } = await h.recorded({ userId: "u_5" }, () =>
        sdk.ai.generateText({ model: model("chat", "gpt-4o"), prompt: "Where is my refund?", maxRetries: 0 }),
      );
      expect(result.text).toContain("refund for order #4412");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        cost_usd: "0.00472",
        provider: "openai",
        api: "openai.chat",
        model: "gpt-4o-2024-08-06",
        user_id: "u_5",
        cache_read_tokens: 1024,
        streamed: false,
      });
      expect(rows[0]?.tags).toMatchObject({ requested_model: "gpt-4o" });
    });

    it("records streamText on a chat model once the stream finishes", async () => {
      const { result, rows } = await h.recorded({ userId: "u_5" }, async () => {
        const r = sdk.ai.streamText({ model: model("chat", "gpt-4o"), prompt: "Refund?", maxRetries: 0 });
        let text = "";
        for await (const t of r.textStream) text += t;
        return text;
      });
      expect(result).toBe("Your refund for order #4412 was issued today.");
      expect(rows[0]).toMatchObject({ cost_usd: "0.00284", streamed: true, status: "ok" });
      expect(rows[0]?.ttft_ms).toEqual(expect.any(Number));
    });

    it("records a Responses model, reasoning tokens priced as output", async () => {
      const { rows } = await h.recorded({ userId: "u_5" }, () =>
        sdk.ai.generateText({ model: model("responses", "gpt-5-mini"), prompt: "When does 4412 ship?", maxRetries: 0 }),
      );
      expect(rows[0]).toMatchObject({ cost_usd: "0.0013846", api: "openai.responses", reasoning_tokens: 448 });
    });

    it("records each failed attempt of a call the AI SDK retries", async () => {
      h.fake.script("/v1/chat/completions", {
        kind: "status",
        status: 500,
        body: { error: { message: "The server had an error", type: "server_error" } },
      });
      const { rows } = await h.recorded({ userId: "u_5" }, () =>
        sdk.ai.generateText({ model: model("chat", "gpt-4o"), prompt: "Refund?", maxRetries: 1 }),
      );
      const sorted = rows.sort((a, b) => Number(a.attempt) - Number(b.attempt));
      expect(sorted.map((r) => [r.attempt, r.status, r.cost_usd])).toEqual([
        [1, "error", "0"],
        [2, "ok", "0.00472"],
      ]);
      expect(sorted[0]?.error_type).toMatch(/^500 /);
    });
  });
}
