import { Worker } from "node:worker_threads";
import { CosttrailError, ERROR_CODES, type ErrorCode, type PreparedEvent } from "@costtrail/core";
import type { AppendOutcome, LedgerDriver, PlainRow, Statement } from "../ledger-driver.js";
import type { ExportFormat } from "../ledger-store.js";
import { duckdbDialect } from "./dialect.js";
import type { DuckDBDriverOptions } from "./driver.js";
import { LedgerBatchBuilder } from "./ledger-batch.js";
import type {
  LedgerAnswer,
  LedgerAnswers,
  LedgerKind,
  LedgerRequests,
  LedgerThreadData,
  LedgerThreadStatus,
  WireError,
} from "./ledger-thread-protocol.js";

/** An error from the ledger thread: a coded one keeps its code; a driver failure stays a plain error for the layer above to wrap. */
function fromWire(e: WireError): Error {
  if (e.code !== null && e.code in ERROR_CODES) return new CosttrailError(e.code as ErrorCode, e.message);
  return new Error(e.message);
}

interface Pending {
  resolve(value: LedgerAnswers[LedgerKind]): void;
  reject(e: unknown): void;
}

interface Outgoing {
  readonly events: readonly PreparedEvent[];
  readonly receivedMs: number;
  resolve(r: AppendOutcome): void;
  reject(e: unknown): void;
}

/**
 * The DuckDB driver run on its own thread (ledger-thread.ts), behind the same LedgerDriver
 * interface. The request thread parses, validates and prices; the ledger thread builds
 * chunks and commits. Events cross as column arrays (ledger-batch.ts), not an object each.
 */
export class LedgerThreadClient implements LedgerDriver {
  readonly dialect = duckdbDialect;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private inFlightRows = 0;
  private dead: Error | null = null;
  private outbox: Outgoing[] = [];

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: LedgerAnswer) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromWire(m.error));
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(new Error(`the ledger thread stopped: ${e.message}`, { cause: e }));
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (!this.dead) fail(new Error(`exit code ${code}`));
    });
  }

  static async open(options: DuckDBDriverOptions): Promise<LedgerThreadClient> {
    const workerData: LedgerThreadData = options;
    const worker = new Worker(new URL("./ledger-thread.js", import.meta.url), { workerData });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: LedgerThreadStatus) => {
        worker.off("message", onMessage);
        if (m.kind === "ready") resolve();
        else {
          void worker.terminate();
          reject(fromWire(m.error));
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    return new LedgerThreadClient(worker);
  }

  private call<K extends LedgerKind>(kind: K, body: LedgerRequests[K]): Promise<LedgerAnswers[K]> {
    if (this.dead) return Promise.reject(new Error(`the ledger thread stopped: ${this.dead.message}`));
    const id = this.nextId++;
    return new Promise<LedgerAnswers[K]>((resolve, reject) => {
      // The answer to request `id` is the one of kind K (the thread answers each request once, in kind).
      this.pending.set(id, { resolve: resolve as (v: LedgerAnswers[LedgerKind]) => void, reject });
      this.worker.postMessage({ id, kind, ...body });
    });
  }

  /**
   * Appends from the same turn of the event loop cross to the ledger thread in one message, as
   * one batch of columns: many single-event requests then cost one set of arrays, not one each.
   */
  async append(events: readonly PreparedEvent[], receivedMs: number): Promise<AppendOutcome> {
    const n = events.length;
    this.inFlightRows += n;
    try {
      return await new Promise<AppendOutcome>((resolve, reject) => {
        if (this.outbox.length === 0) setImmediate(() => this.flushOutbox());
        this.outbox.push({ events, receivedMs, resolve, reject });
      });
    } finally {
      this.inFlightRows -= n;
    }
  }

  private flushOutbox(): void {
    const sent = this.outbox;
    this.outbox = [];
    const builder = new LedgerBatchBuilder();
    try {
      for (const s of sent) for (const e of s.events) builder.add(e, s.receivedMs);
    } catch (e) {
      for (const s of sent) s.reject(e);
      return;
    }
    this.call("append", { batch: builder.build(), sizes: sent.map((s) => s.events.length) }).then(
      (results) =>
        results.forEach((r, i) => {
          const s = sent[i];
          if (!s) return;
          if (r.ok) s.resolve(r.outcome);
          else s.reject(fromWire(r.error));
        }),
      (e) => {
        for (const s of sent) s.reject(e);
      },
    );
  }

  all(statement: Statement): Promise<PlainRow[]> {
    return this.call("all", { statement });
  }

  async execute(statement: Statement): Promise<void> {
    await this.call("execute", { statement });
  }

  copyTo(statement: Statement, path: string, format: ExportFormat): Promise<number> {
    return this.call("copyTo", { statement, path, format });
  }

  /** Waits until every sealed live segment has been compacted (bench and tests). */
  async settle(): Promise<void> {
    await this.call("settle", {});
  }

  /** Rows sent to the ledger thread and not yet answered. */
  pendingRows(): number {
    return this.inFlightRows;
  }

  async close(): Promise<void> {
    if (!this.dead) await this.call("close", {});
    await this.worker.terminate();
  }
}
