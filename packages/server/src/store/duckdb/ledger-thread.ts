import { parentPort, workerData } from "node:worker_threads";
import { DuckDBDriver } from "./driver.js";
import {
  type AppendSettled,
  type LedgerAnswer,
  type LedgerAnswers,
  type LedgerKind,
  type LedgerRequest,
  type LedgerRequests,
  type LedgerThreadData,
  type LedgerThreadStatus,
  wireError,
} from "./ledger-thread-protocol.js";

/**
 * The ledger's own thread: it owns the DuckDB instance, so building chunks and committing
 * them run beside the request thread instead of on it. The protocol is ledger-thread-protocol.ts.
 */
const port = parentPort;
if (!port) throw new Error("ledger-thread runs only as a worker thread");

type Handlers = { [K in LedgerKind]: (req: LedgerRequests[K]) => Promise<LedgerAnswers[K]> };

function handlersFor(driver: DuckDBDriver): Handlers {
  return {
    // Appends that arrived together go to the writer together, each answered on its own.
    async append({ batch, sizes }) {
      let start = 0;
      return Promise.all(
        sizes.map((size) => {
          const part = driver.appendRange(batch, start, start + size);
          start += size;
          return part.then(
            (outcome): AppendSettled => ({ ok: true, outcome }),
            (e): AppendSettled => ({ ok: false, error: wireError(e) }),
          );
        }),
      );
    },
    all: ({ statement }) => driver.all(statement),
    execute: async ({ statement }) => {
      await driver.execute(statement);
      return null;
    },
    copyTo: ({ statement, path, format }) => driver.copyTo(statement, path, format),
    settle: async () => {
      await driver.settle();
      return null;
    },
    close: async () => {
      await driver.close();
      return null;
    },
  };
}

function handle(handlers: Handlers, req: LedgerRequest): Promise<LedgerAnswers[LedgerKind]> {
  switch (req.kind) {
    case "append":
      return handlers.append(req);
    case "all":
      return handlers.all(req);
    case "execute":
      return handlers.execute(req);
    case "copyTo":
      return handlers.copyTo(req);
    case "settle":
      return handlers.settle(req);
    case "close":
      return handlers.close(req);
  }
}

try {
  const driver = await DuckDBDriver.open(workerData as LedgerThreadData);
  const handlers = handlersFor(driver);
  port.on("message", async (req: LedgerRequest) => {
    let answer: LedgerAnswer;
    try {
      answer = { id: req.id, ok: true, value: await handle(handlers, req) };
    } catch (e) {
      answer = { id: req.id, ok: false, error: wireError(e) };
    }
    port.postMessage(answer);
    if (req.kind === "close") port.close();
  });
  port.postMessage({ kind: "ready" } satisfies LedgerThreadStatus);
} catch (e) {
  port.postMessage({ kind: "failed", error: wireError(e) } satisfies LedgerThreadStatus);
}
