import { type Issue, type PreparedEvent, type RateCard, prepareEvent } from "@costtrail/core";
import { CosttrailError } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { KeyRing } from "../auth/api-keys.js";
import { requireScope } from "../auth/authenticate.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { ingestBody, registerBodyParsers } from "./parse-body.js";

export interface CollectorOptions {
  readonly store: LedgerStore;
  readonly rateCard: () => RateCard;
  readonly keys: KeyRing;
  readonly bodyLimit: number;
  /** How far past its arrival an event's timestamp may lie (server.max_future_skew). */
  readonly maxFutureSkewMs: number;
  /** The earliest timestamp accepted (server.min_timestamp). */
  readonly minTimestampMs: number;
}

/** Most events one request may carry, whatever their size. */
export const MAX_EVENTS_PER_REQUEST = 50_000;

const ISSUE_SCHEMA = {
  type: "object",
  properties: { code: { type: "string" }, path: { type: "array", items: { type: ["string", "integer"] } }, message: { type: "string" } },
} as const;

const INGEST_RESPONSE = {
  type: "object",
  properties: {
    accepted: { type: "integer" },
    duplicates: {
      type: "array",
      items: { type: "object", properties: { index: { type: "integer" }, id: { type: "string" } } },
    },
    conflicts: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer" },
          id: { type: "string" },
          existing_timestamp: { type: "string" },
          message: { type: "string" },
        },
      },
    },
    unpriced: { type: "integer" },
    rejected: {
      type: "array",
      items: { type: "object", properties: { index: { type: "integer" }, errors: { type: "array", items: ISSUE_SCHEMA } } },
    },
  },
} as const;

/**
 * POST /v1/events: validate, normalize and price each event with core, append the good ones
 * durably, and answer only after they are committed. One bad event never loses the others.
 */
export async function collectorPlugin(app: FastifyInstance, opts: CollectorOptions): Promise<void> {
  registerBodyParsers(app);
  app.post(
    "/v1/events",
    {
      bodyLimit: opts.bodyLimit,
      onRequest: requireScope(opts.keys, "ingest"),
      schema: {
        response: {
          200: INGEST_RESPONSE,
          400: {
            type: "object",
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              path: ISSUE_SCHEMA.properties.path,
              issues: { type: "array", items: ISSUE_SCHEMA },
              ...INGEST_RESPONSE.properties,
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { values, lineIssues } = ingestBody(request.body);
      if (values.length > MAX_EVENTS_PER_REQUEST) {
        throw new CosttrailError(
          "CT_PAYLOAD_TOO_LARGE",
          `A request may carry at most ${MAX_EVENTS_PER_REQUEST} events, got ${values.length}`,
          { path: ["body"] },
        );
      }
      const key = request.apiKey;
      const projects = key?.projects ?? null;
      const card = opts.rateCard();
      const receivedMs = Date.now();
      const window = { nowMs: receivedMs, maxFutureSkewMs: opts.maxFutureSkewMs, minTimestampMs: opts.minTimestampMs };
      const rows: PreparedEvent[] = [];
      /** The request index of each row. */
      const rowIndex: number[] = [];
      const rejected: Array<{ index: number; errors: Issue[] }> = [];
      values.forEach((value, index) => {
        const lineIssue = lineIssues.get(index);
        if (lineIssue) {
          rejected.push({ index, errors: [lineIssue] });
          return;
        }
        let v = value;
        // A key limited to one project stamps it on events that name none.
        if (
          projects?.length === 1 &&
          v !== null &&
          typeof v === "object" &&
          !Array.isArray(v) &&
          (v as Record<string, unknown>).project === undefined
        ) {
          v = { ...(v as object), project: projects[0] };
        }
        const r = prepareEvent(v, card, ["events", index], window);
        if (!r.ok) {
          rejected.push({ index, errors: r.issues });
          return;
        }
        const prepared: PreparedEvent = r.value;
        const project = prepared.event.project;
        if (projects !== null && (project === undefined || !projects.includes(project))) {
          rejected.push({
            index,
            errors: [
              {
                code: "invalid_value",
                path: ["events", index, "project"],
                message: `this key may only ingest into ${projects.join(", ")}`,
              },
            ],
          });
          return;
        }
        rows.push(prepared);
        rowIndex.push(index);
      });
      if (rows.length === 0 && rejected.length > 0) {
        return reply.code(400).send({
          code: "CT_INVALID_EVENT",
          message: `All ${rejected.length} events were rejected`,
          path: ["events"],
          accepted: 0,
          duplicates: [],
          conflicts: [],
          unpriced: 0,
          rejected,
        });
      }
      const result = await opts.store.append(rows, receivedMs);
      const notWritten = new Set<number>(result.duplicates);
      for (const c of result.conflicts) notWritten.add(c.index);
      let unpriced = 0;
      rows.forEach((r, i) => {
        if (r.price.status === "unpriced" && !notWritten.has(i)) unpriced++;
      });
      return {
        accepted: result.inserted,
        duplicates: result.duplicates.map((i) => ({ index: rowIndex[i] as number, id: (rows[i] as PreparedEvent).event.id })),
        conflicts: result.conflicts.map((c) => ({
          index: rowIndex[c.index] as number,
          id: (rows[c.index] as PreparedEvent).event.id,
          existing_timestamp: c.existing_timestamp,
          message: `an event with this id and other content is already in the ledger (timestamp ${c.existing_timestamp}); not written`,
        })),
        unpriced,
        rejected,
      };
    },
  );
}
