import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Costtrail } from "../../src/index.js";
import { Collector, type LedgerRow } from "../collector.js";
import { FakeProvider } from "../fake-provider.js";

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
    let fake: FakeProvider;
    let collector: Collector;
    let ct: Costtrail;
    let spool: string;
    let n = 0;

    beforeAll(async () => {
      fake = await FakeProvider.start();
      collector = await Collector.start();
      spool = await mkdtemp(join(tmpdir(), "costtrail-sdk-spool-"));
      ct = new Costtrail({ endpoint: collector.url, apiKey: collector.adminKey, project: "langchain", spoolDir: spool });
    });
    afterAll(async () => {
      await ct.shutdown();
      await fake.close();
      await collector.close();
      await rm(spool, { recursive: true, force: true });
    });

    async function recorded<T>(fn: () => Promise<T>): Promise<{ result: T; rows: LedgerRow[] }> {
      const feature = `langchain-${c.label}-${++n}`;
      const result = await ct.withContext({ feature, customerId: "globex" }, fn);
      await new Promise((r) => setTimeout(r, 50));
      await ct.flush();
      return { result, rows: await collector.events({ feature }) };
    }

    it("records invoke() with the model's usage and its exact cost, in the caller's context", async () => {
      const { result, rows } = await recorded(() =>
        c.model(fake.url, false).invoke("What does it say?", { callbacks: [ct.langchainHandler()] }),
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

    it("records stream() once the stream ends", async () => {
      const { result, rows } = await recorded(async () => {
        let text = "";
        for await (const chunk of await c.model(fake.url, true).stream("Refund?", { callbacks: [ct.langchainHandler()] })) {
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
