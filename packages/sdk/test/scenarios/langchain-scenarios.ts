import { describe, expect, it } from "vitest";
import { useLedgerHarness } from "../harness.js";

/** A LangChain chat model as the scenarios use it, whatever the integration package. */
export interface ChatModelLike {
  invoke(input: string, options?: { callbacks?: unknown[] }): Promise<{ content: unknown }>;
  stream(input: string, options?: { callbacks?: unknown[] }): Promise<AsyncIterable<{ content: unknown }>>;
}

export interface LangchainCase {
  readonly label: string;
  /** A chat model of the package under test pointed at the fake provider. */
  readonly model: (fakeUrl: string, streaming: boolean) => ChatModelLike;
  readonly provider: string;
  /** The fixture's model and hand-computed costs, plain and streamed. */
  readonly plain: { model: string; cost: string };
  readonly streamed: { model: string; cost: string; text: string };
}

export function langchainScenarios(c: LangchainCase): void {
  describe(`LangChain.js callback handler with ${c.label}`, () => {
    const h = useLedgerHarness(`langchain-${c.label}`);

    it("records invoke() with the model's usage and its exact cost, in the caller's context", async () => {
      const { result, rows } = await h.recorded({ customerId: "globex" }, () =>
        c.model(h.fake.url, false).invoke("What does it say?", { callbacks: [h.ct.langchainHandler()] }),
      );
      expect(typeof result.content === "string" ? result.content : JSON.stringify(result.content)).not.toBe("");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        cost_usd: c.plain.cost,
        provider: c.provider,
        model: c.plain.model,
        customer_id: "globex",
        status: "ok",
      });
    });

    it("attributes concurrent calls each to its own caller's context", async () => {
      const users = ["u1", "u2", "u3", "u4"];
      const { rows } = await h.recorded({}, () =>
        Promise.all(
          users.map((userId) =>
            h.ct.withContext({ userId }, () => c.model(h.fake.url, false).invoke("hi", { callbacks: [h.ct.langchainHandler()] })),
          ),
        ),
      );
      expect(rows.map((r) => r.user_id).sort()).toEqual(users);
    });

    it("records stream() once the stream ends", async () => {
      const { result, rows } = await h.recorded({ customerId: "globex" }, async () => {
        let text = "";
        for await (const chunk of await c.model(h.fake.url, true).stream("Refund?", { callbacks: [h.ct.langchainHandler()] })) {
          if (typeof chunk.content === "string") text += chunk.content;
        }
        return text;
      });
      expect(result).toBe(c.streamed.text);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ cost_usd: c.streamed.cost, model: c.streamed.model, streamed: true });
      expect(rows[0]?.ttft_ms).toEqual(expect.any(Number));
    });
  });
}
