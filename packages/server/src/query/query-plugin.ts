import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CosttrailError, type Issue, type QueryFilter, type RateCard, formatIssue, isDimension, validateQuery } from "@costtrail/core";
import type { FastifyInstance } from "fastify";
import type { KeyRing } from "../auth/api-keys.js";
import { requireScope } from "../auth/authenticate.js";
import type { ExportFormat, LedgerStore, ReadScope } from "../store/ledger-store.js";
import { priceRoutes } from "./price-routes.js";
import { queryCsv } from "./query-csv.js";
import { readScopeFor } from "./read-scope.js";
import { spendSummary } from "./spend-summary.js";

export interface QueryPluginOptions {
  readonly store: LedgerStore;
  readonly keys: KeyRing;
  readonly rateCard: () => RateCard;
}

function invalid(issues: Issue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_QUERY", issues.map(formatIssue).join("; "), { issues });
}

const EXPORT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson",
  parquet: "application/vnd.apache.parquet",
};

/** Reads `from`, `to` and dimension filters (`feature=x`, `tag.queue=billing`) from a query string. */
function rangeAndFilters(
  q: Record<string, string | string[] | undefined>,
  allowed: readonly string[],
): { from: number; to: number; filters: QueryFilter[] } {
  const issues: Issue[] = [];
  const filters: QueryFilter[] = [];
  for (const [k, raw] of Object.entries(q)) {
    if (allowed.includes(k) || raw === undefined) continue;
    if (!isDimension(k)) {
      issues.push({
        code: "unknown_field",
        path: ["query", k],
        message: `is not a parameter, column or tag.<key>; parameters: ${allowed.join(", ")}`,
      });
      continue;
    }
    const values = Array.isArray(raw) ? raw : [raw];
    filters.push(values.length === 1 ? { column: k, op: "eq", value: values[0] as string } : { column: k, op: "in", value: values });
  }
  const spec = validateQuery({
    metrics: ["requests"],
    ...(q.from !== undefined && { from: q.from }),
    ...(q.to !== undefined && { to: q.to }),
  });
  if (!spec.ok) issues.push(...spec.issues);
  if (issues.length > 0 || !spec.ok) throw invalid(issues);
  return { from: spec.value.from, to: spec.value.to, filters };
}

/**
 * The read API. Its onRequest hook authenticates the key and sets `request.readScope`
 * through the one scoping function, so no route registered here can read unscoped.
 */
export async function queryPlugin(app: FastifyInstance, opts: QueryPluginOptions): Promise<void> {
  const authenticate = requireScope(opts.keys, "read");
  app.decorateRequest("readScope", null as unknown as ReadScope);
  app.addHook("onRequest", async (request, reply) => {
    await authenticate(request, reply);
    request.readScope = readScopeFor(request.apiKey as NonNullable<typeof request.apiKey>);
  });

  app.post("/v1/query", async (request, reply) => {
    const spec = validateQuery(request.body);
    if (!spec.ok) throw invalid(spec.issues);
    // The same rows as CSV, for a spreadsheet: the dashboard's export of the view on screen.
    if (/\btext\/csv\b/.test(request.headers.accept ?? "")) {
      const rows = await opts.store.query(spec.value, request.readScope);
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="costtrail-query.csv"')
        .send(queryCsv(spec.value, rows));
    }
    // The rows arrive as JSON text, built by the ledger: a large rollup is not parsed and serialised again here.
    const rows = await opts.store.queryJson(spec.value, request.readScope);
    return reply.type("application/json; charset=utf-8").send(`{"rows":${rows}}`);
  });

  app.get("/v1/spend/summary", async (request) => {
    const q = request.query as { time_zone?: string };
    return spendSummary(opts.store, request.readScope, q.time_zone ?? "UTC", Date.now());
  });

  app.get("/v1/tags", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const { from, to } = rangeAndFilters(q, ["from", "to", "limit"]);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw invalid([{ code: "invalid_value", path: ["query", "limit"], message: "must be an integer from 1 to 1000" }]);
    return { tags: await opts.store.tagKeys({ from, to, limit }, request.readScope) };
  });

  app.get("/v1/events", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const { from, to, filters } = rangeAndFilters(q, ["from", "to", "limit", "cursor"]);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw invalid([{ code: "invalid_value", path: ["query", "limit"], message: "must be an integer from 1 to 1000" }]);
    const cursor: unknown = q.cursor;
    if (cursor !== undefined && typeof cursor !== "string")
      throw new CosttrailError("CT_INVALID_CURSOR", "cursor: give one cursor, the next_cursor of the previous page", {
        path: ["query", "cursor"],
      });
    return opts.store.listEvents({ from, to, filters, limit }, cursor ?? null, request.readScope);
  });

  // One event with every field and its raw usage. `at` (the event's time, which every listing
  // gives) narrows the search to that instant; without it every segment is searched.
  app.get("/v1/events/:id", async (request) => {
    const { id } = request.params as { id: string };
    const q = request.query as Record<string, string | undefined>;
    let from = 0;
    let to = 8.64e15;
    if (q.at !== undefined) {
      const at = Date.parse(q.at);
      if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(q.at))
        throw invalid([
          { code: "invalid_format", path: ["query", "at"], message: `must be the event's ISO-8601 time, got ${JSON.stringify(q.at)}` },
        ]);
      from = at;
      to = at + 1;
    }
    const page = await opts.store.listEvents({ from, to, filters: [], limit: 1, id }, null, request.readScope);
    const event = page.events[0];
    if (!event)
      throw new CosttrailError("CT_NOT_FOUND", `No event ${JSON.stringify(id)}${q.at ? ` at ${q.at}` : ""} that this key may read`, {
        path: ["params", "id"],
      });
    return event;
  });

  await priceRoutes(app, { store: opts.store, rateCard: opts.rateCard });

  app.get("/v1/export", async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const format = q.format ?? "ndjson";
    if (typeof format !== "string" || !Object.hasOwn(EXPORT_TYPES, format))
      throw invalid([{ code: "invalid_value", path: ["query", "format"], message: "must be one of csv, ndjson, parquet" }]);
    const { from, to, filters } = rangeAndFilters(q, ["from", "to", "format"]);
    const dir = await mkdtemp(join(tmpdir(), "costtrail-export-"));
    // However the answer ends (sent, failed, or the client gone), the file goes with it.
    reply.raw.once("close", () => void rm(dir, { recursive: true, force: true }));
    const file = join(dir, `events.${format}`);
    const rows = await opts.store.exportTo(file, format as ExportFormat, { from, to, filters }, request.readScope);
    const stream = createReadStream(file);
    return reply
      .header("content-type", EXPORT_TYPES[format as ExportFormat])
      .header("content-disposition", `attachment; filename="costtrail-events.${format}"`)
      .header("x-costtrail-rows", String(rows))
      .send(stream);
  });
}
