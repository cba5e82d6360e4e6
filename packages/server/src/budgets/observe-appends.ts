import type { PreparedEvent } from "@costtrail/core";
import type { FastifyBaseLogger } from "fastify";
import type { AppendResult, LedgerStore } from "../store/ledger-store.js";

export type AppendListener = (events: readonly PreparedEvent[], result: AppendResult) => Promise<void>;

/**
 * The store, with a listener told of every append once it is committed, whichever door the
 * events came through (collector, OTLP, gateway). The listener's failure is logged and never
 * fails the append: counters are a cache, the ledger is the record.
 */
export function observeAppends(store: LedgerStore, listener: AppendListener, log: () => FastifyBaseLogger | undefined): LedgerStore {
  const append: LedgerStore["append"] = async (events, receivedMs) => {
    const result = await store.append(events, receivedMs);
    try {
      await listener(events, result);
    } catch (e) {
      log()?.error({ cause: (e as Error).message, events: events.length }, "budget counters not updated for an append");
    }
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
