import { createGunzip } from "node:zlib";
import type { Issue } from "@costtrail/core";
import { CosttrailError } from "@costtrail/core";
import type { FastifyInstance } from "fastify";

/** What the collector reads from a body: the values, and per-line problems of NDJSON. */
export interface IngestBody {
  readonly values: unknown[];
  /** NDJSON lines that were not JSON, by index; the other lines still count. */
  readonly lineIssues: Map<number, Issue>;
}

export const NDJSON_TYPES = ["application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-seq"];

function jsonError(e: unknown): CosttrailError {
  return new CosttrailError("CT_INVALID_JSON", `The request body is not valid JSON: ${(e as Error).message}`, { path: ["body"] });
}

/**
 * Registers the body readers of the collector: gzip (the decompressed size counts against
 * the body limit, so a small bomb cannot expand past it), a JSON array or object, and NDJSON.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.addHook("preParsing", async (request, _reply, payload) => {
    const encoding = String(request.headers["content-encoding"] ?? "identity").toLowerCase();
    if (encoding === "identity") return payload;
    if (encoding !== "gzip" && encoding !== "x-gzip") {
      throw new CosttrailError("CT_UNSUPPORTED_MEDIA_TYPE", `Content-Encoding ${encoding} is not supported; send gzip or none`, {
        path: ["headers", "content-encoding"],
      });
    }
    const gunzip = createGunzip() as ReturnType<typeof createGunzip> & { receivedEncodedLength: number };
    gunzip.receivedEncodedLength = 0;
    payload.on("data", (chunk: Buffer) => {
      gunzip.receivedEncodedLength += chunk.length;
    });
    payload.on("error", (e) => gunzip.destroy(e));
    return payload.pipe(gunzip);
  });

  app.removeContentTypeParser(["application/json", "text/plain"]);
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    if (body === "") return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(jsonError(e), undefined);
    }
  });
  app.addContentTypeParser(NDJSON_TYPES, { parseAs: "string" }, (_req, body, done) => {
    const values: unknown[] = [];
    const lineIssues = new Map<number, Issue>();
    for (const line of (body as string).split("\n")) {
      const text = line.trim();
      if (text === "") continue;
      try {
        values.push(JSON.parse(text));
      } catch (e) {
        lineIssues.set(values.length, {
          code: "invalid_format",
          path: ["events", values.length],
          message: `line is not valid JSON: ${(e as Error).message}`,
        });
        values.push(undefined);
      }
    }
    done(null, { values, lineIssues } satisfies IngestBody);
  });
}

/** The events of a parsed body: a JSON array, a single event object, or NDJSON lines. */
export function ingestBody(body: unknown): IngestBody {
  if (body !== null && typeof body === "object" && "lineIssues" in body && (body as IngestBody).lineIssues instanceof Map)
    return body as IngestBody;
  if (Array.isArray(body)) return { values: body, lineIssues: new Map() };
  if (body !== null && typeof body === "object") return { values: [body], lineIssues: new Map() };
  throw new CosttrailError("CT_INVALID_BODY", "The body must be a JSON array of events, one event object, or NDJSON", { path: ["body"] });
}
