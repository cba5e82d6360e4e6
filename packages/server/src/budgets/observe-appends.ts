import type { PreparedEvent } from "@costtrail/core";
import type { FastifyBaseLogger } from "fastify";
import type { AppendResult, LedgerStore } from "../store/ledger-store.js";

export type AppendListener = (events: readonly PreparedEvent[], result: AppendResult) => Promise<void>;

/** Listener calls still running at most; past it an append's counting is skipped, and logged. */
const MAX_PENDING = 1000;

/**
 * The store, with a listener told of every append once it is committed, whichever door the
 * events came through (collector, OTLP, gateway). The append does not wait for the listener: a
 * slow Redis never holds up ingestion (the in-process counters finish before the append
 * returns all the same, as they never await). A failure is logged and never fails the append:
 * counters are a cache, the ledger is the record.
 */
export function observeAppends(store: LedgerStore, listener: AppendListener, log: () => FastifyBaseLogger | undefined): LedgerStore {
  let pending = 0;
  const append: LedgerStore["append"] = async (events, receivedMs) => {
    const result = await store.append(events, receivedMs);
    if (pending >= MAX_PENDING) {
      log()?.error({ events: events.length }, "budget counters not updated for an append: the counter store is too slow");
      return result;
    }
    pending++;
    listener(events, result)
      .catch((e: Error) => log()?.error({ cause: e.message, events: events.length }, "budget counters not updated for an append"))
      .finally(() => {
        pending--;
      });
    return result;
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "append") return append;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
