import { parentPort, workerData } from "node:worker_threads";
import type { LedgerBatch } from "./ledger-batch.js";
import { DuckDBLedgerStore, type DuckDBStoreOptions } from "./duckdb-store.js";

/**
 * The ledger's own thread: it owns the DuckDB instance, so building chunks and committing
 * them run beside the request thread instead of on it. Messages are `{id, method, args}`;
 * answers are `{id, ok, value}` or `{id, ok: false, error: {code, message, path}}`.
 */
const METHODS = new Set(["appendMany", "query", "listEvents", "exportTo", "count", "saveApiKey", "listApiKeys", "close"]);

const port = parentPort;
if (!port) throw new Error("store-worker runs only as a worker thread");

type Settled = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string; path: unknown[]; issues: unknown[] } };

function errorOf(e: unknown): { code: string; message: string; path: unknown[]; issues: unknown[] } {
  const err = e as { code?: string; message?: string; path?: unknown[]; issues?: unknown[] };
  return {
    code: typeof err.code === "string" && err.code.startsWith("CT_") ? err.code : "CT_STORE_FAILED",
    message: err.message ?? String(e),
    path: err.path ?? [],
    issues: err.issues ?? [],
  };
}

try {
  const store = await DuckDBLedgerStore.open(workerData as DuckDBStoreOptions);
  // Appends that arrived together (one batch, cut into the requests' parts by their sizes) go
  // to the writer together, each answered on its own.
  const appendMany = async (batch: LedgerBatch, sizes: number[]): Promise<Settled[]> => {
    let start = 0;
    return Promise.all(
      sizes.map((size) => {
        const part = store.appendRange(batch, start, start + size);
        start += size;
        return part.then(
          (value): Settled => ({ ok: true, value }),
          (e): Settled => ({ ok: false, error: errorOf(e) }),
        );
      }),
    );
  };
  port.on("message", async (m: { id: number; method: string; args: unknown[] }) => {
    if (!METHODS.has(m.method)) {
      port.postMessage({ id: m.id, ok: false, error: { code: "CT_INTERNAL", message: `no store method ${m.method}`, path: [] } });
      return;
    }
    try {
      const value =
        m.method === "appendMany"
          ? await appendMany(m.args[0] as LedgerBatch, m.args[1] as number[])
          : await (
              (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method] as (...a: unknown[]) => Promise<unknown>
            ).apply(store, m.args);
      port.postMessage({ id: m.id, ok: true, value });
      if (m.method === "close") port.close();
    } catch (e) {
      port.postMessage({ id: m.id, ok: false, error: errorOf(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  const err = e as Error;
  port.postMessage({ ready: false, error: { message: err.message, code: (e as { code?: string }).code } });
}
