import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type Attribution, Costtrail } from "../src/index.js";
import { Collector, type LedgerRow } from "./collector.js";
import { FakeProvider } from "./fake-provider.js";

export interface LedgerHarness {
  readonly fake: FakeProvider;
  readonly collector: Collector;
  readonly ct: Costtrail;
  /**
   * Runs `fn` in a context with a feature of its own and answers the ledger rows it left,
   * by attempt. Usage of a plain answer is read from a copy of its body just after the caller
   * has it, so the rows are read after a moment and a flush.
   */
  recorded<T>(attribution: Attribution, fn: () => Promise<T>): Promise<{ result: T; rows: LedgerRow[] }>;
}

/**
 * For a describe block: a fake provider, a real collector on a DuckDB file, and a Costtrail
 * sending to it, started before the block's tests and closed after them.
 */
export function useLedgerHarness(project: string): LedgerHarness {
  let fake: FakeProvider | undefined;
  let collector: Collector | undefined;
  let ct: Costtrail | undefined;
  let spool = "";
  let n = 0;
  beforeAll(async () => {
    fake = await FakeProvider.start();
    collector = await Collector.start();
    spool = await mkdtemp(join(tmpdir(), "costtrail-sdk-spool-"));
    ct = new Costtrail({ endpoint: collector.url, apiKey: collector.adminKey, project, spoolDir: spool });
  });
  afterAll(async () => {
    await ct?.shutdown();
    await fake?.close();
    await collector?.close();
    await rm(spool, { recursive: true, force: true });
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("the harness starts in beforeAll");
    return v;
  };
  return {
    get fake() {
      return started(fake);
    },
    get collector() {
      return started(collector);
    },
    get ct() {
      return started(ct);
    },
    async recorded(attribution, fn) {
      const feature = `${project}-${++n}`;
      const result = await started(ct).withContext({ ...attribution, feature }, fn);
      await new Promise((r) => setTimeout(r, 50));
      await started(ct).flush();
      const rows = await started(collector).events({ feature });
      return { result, rows: rows.sort((a, b) => Number(a.attempt) - Number(b.attempt)) };
    },
  };
}
