import { CosttrailError } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { ApiKeyRecord, KeyRing } from "../auth/api-keys.js";
import { requireScope } from "../auth/authenticate.js";
import type { AlertEngine } from "./alert-engine.js";

export interface AlertsPluginOptions {
  readonly keys: KeyRing;
  readonly alerts: AlertEngine;
}

/** Alert history for readers (a key limited to projects sees the alerts about them), and an evaluation on demand for admins. */
export async function alertsPlugin(app: FastifyInstance, opts: AlertsPluginOptions): Promise<void> {
  const read = requireScope(opts.keys, "read");
  const admin = requireScope(opts.keys, "admin");

  app.get("/v1/alerts", { onRequest: read }, async (request) => {
    const key = request.apiKey as ApiKeyRecord;
    const q = request.query as { state?: string; limit?: string };
    if (q.state !== undefined && q.state !== "open" && q.state !== "resolved")
      throw new CosttrailError("CT_INVALID_QUERY", "state: must be open or resolved", { path: ["query", "state"] });
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new CosttrailError("CT_INVALID_QUERY", "limit: must be an integer from 1 to 1000", { path: ["query", "limit"] });
    const projects = key.projects;
    const alerts = (await opts.alerts.list(q.state, projects === null ? limit : 1000)).filter(
      (a) => projects === null || (typeof a.scope.project === "string" && projects.includes(a.scope.project)),
    );
    return { alerts: alerts.slice(0, limit) };
  });

  app.post("/v1/alerts/evaluate", { onRequest: admin }, async () => {
    await opts.alerts.evaluate();
    return { open: (await opts.alerts.list("open", 1000)).length };
  });
}
