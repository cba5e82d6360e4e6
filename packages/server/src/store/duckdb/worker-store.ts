import { Worker } from "node:worker_threads";
import { CosttrailError, type ErrorCode, type PreparedEvent, type QuerySpec } from "@costtrail/core";
import { LedgerBatchBuilder } from "./ledger-batch.js";
import type {
  AppendResult,
  EventListRequest,
  EventPage,
  ExportFormat,
  LedgerStore,
  QueryRow,
  ReadScope,
  StoredApiKey,
} from "../ledger-store.js";
import type { DuckDBStoreOptions } from "./duckdb-store.js";

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * The DuckDB ledger run on its own thread (store-worker.ts), behind the same LedgerStore
 * interface. The request thread parses, validates and prices; the ledger thread builds
 * chunks and commits. Events cross as column arrays (ledger-batch.ts), not an object each.
 */
export class WorkerLedgerStore implements LedgerStore {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private inFlightRows = 0;
  private dead: Error | null = null;
  private outbox: Array<{
    events: readonly PreparedEvent[];
    receivedMs: number;
    resolve(r: AppendResult): void;
    reject(e: unknown): void;
  }> = [];

  private constructor(private readonly worker: Worker) {
    worker.on(
      "message",
      (m: {
        id: number;
        ok: boolean;
        value?: unknown;
        error?: { code: string; message: string; path: Array<string | number>; issues: unknown[] };
      }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else {
          const e = m.error ?? { code: "CT_STORE_FAILED", message: "store failed", path: [], issues: [] };
          p.reject(new CosttrailError(e.code as ErrorCode, e.message, { path: e.path, issues: e.issues as never }));
        }
      },
    );
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values())
        p.reject(new CosttrailError("CT_STORE_FAILED", `the ledger thread stopped: ${e.message}`, { cause: e }));
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (!this.dead) fail(new Error(`exit code ${code}`));
    });
  }

  static async open(options: DuckDBStoreOptions): Promise<WorkerLedgerStore> {
    const worker = new Worker(new URL("./store-worker.js", import.meta.url), { workerData: options });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; error?: { message: string } }) => {
        if (m.ready === undefined) return;
        worker.off("message", onMessage);
        if (m.ready) resolve();
        else {
          void worker.terminate();
          reject(new Error(m.error?.message ?? "the ledger thread failed to start"));
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    return new WorkerLedgerStore(worker);
  }

  private call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(new CosttrailError("CT_STORE_FAILED", `the ledger thread stopped: ${this.dead.message}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  /**
   * Appends from the same turn of the event loop cross to the ledger thread in one message, as
   * one batch of columns: many single-event requests then cost one set of arrays, not one each.
   */
  async append(events: readonly PreparedEvent[], receivedMs = Date.now()): Promise<AppendResult> {
    const n = events.length;
    this.inFlightRows += n;
    try {
      return await new Promise<AppendResult>((resolve, reject) => {
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
    this.call<
      Array<
        | { ok: true; value: AppendResult }
        | { ok: false; error: { code: string; message: string; path: Array<string | number>; issues: unknown[] } }
      >
    >("appendMany", [builder.build(), sent.map((s) => s.events.length)]).then(
      (results) =>
        results.forEach((r, i) => {
          const s = sent[i];
          if (!s) return;
          if (r.ok) s.resolve(r.value);
          else
            s.reject(
              new CosttrailError(r.error.code as ErrorCode, r.error.message, { path: r.error.path, issues: r.error.issues as never }),
            );
        }),
      (e) => {
        for (const s of sent) s.reject(e);
      },
    );
  }

  query(spec: QuerySpec, scope: ReadScope): Promise<QueryRow[]> {
    return this.call("query", [spec, scope]);
  }

  listEvents(req: EventListRequest, scope: ReadScope): Promise<EventPage> {
    return this.call("listEvents", [req, scope]);
  }

  exportTo(path: string, format: ExportFormat, req: Omit<EventListRequest, "limit" | "cursor">, scope: ReadScope): Promise<number> {
    return this.call("exportTo", [path, format, req, scope]);
  }

  count(scope: ReadScope): Promise<number> {
    return this.call("count", [scope]);
  }

  saveApiKey(key: StoredApiKey): Promise<void> {
    return this.call("saveApiKey", [key]);
  }

  listApiKeys(): Promise<StoredApiKey[]> {
    return this.call("listApiKeys", []);
  }

  /** Rows sent to the ledger thread and not yet answered. */
  pendingRows(): number {
    return this.inFlightRows;
  }

  async close(): Promise<void> {
    if (!this.dead) await this.call("close", []);
    await this.worker.terminate();
  }
}
