import type { FastifyInstance } from "fastify";
import type { LedgerStore } from "../store/ledger-store.js";

export interface HealthOptions {
  readonly store: LedgerStore;
  readonly maxPendingRows: number;
  readonly isShuttingDown: () => boolean;
}

/** /healthz: the process answers. /readyz: it can take traffic now (store open, writer not saturated, not draining). */
export async function healthPlugin(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const pending = opts.store.pendingRows();
    if (opts.isShuttingDown()) return reply.code(503).send({ status: "shutting_down", pending_events: pending });
    if (pending >= opts.maxPendingRows * 0.9)
      return reply.code(503).header("retry-after", "1").send({ status: "overloaded", pending_events: pending });
    return { status: "ready", pending_events: pending };
  });
}
