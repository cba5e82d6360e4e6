import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { UsageEvent } from "@costtrail/core";
import type { EventExporter, ExportOutcome } from "./export-outcome.js";

const gzip = promisify(gzipCallback);

export interface HttpExporterOptions {
  /** The collector's base URL, e.g. http://127.0.0.1:4680. */
  readonly endpoint: string;
  /** An `ingest` key. */
  readonly apiKey: string;
  /** How long one POST may take before it counts as failed and retryable (default 10 s). */
  readonly timeoutMs?: number;
  /** A fetch of the caller's own (default: the global fetch). */
  readonly fetch?: typeof fetch;
}

/** Statuses worth sending again: the collector is busy, restarting, or a proxy is. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** `Retry-After` as seconds or as an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

interface IngestAnswer {
  accepted?: number;
  rejected?: unknown[];
  duplicates?: unknown[];
  message?: string;
  code?: string;
}

/** POSTs gzipped JSON batches to the collector's `/v1/events`. */
export class HttpExporter implements EventExporter {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: HttpExporterOptions) {
    this.url = `${options.endpoint.replace(/\/+$/, "")}/v1/events`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  async export(events: readonly UsageEvent[], signal?: AbortSignal): Promise<ExportOutcome> {
    let response: Response;
    try {
      const body = await gzip(JSON.stringify(events));
      response = await this.fetchFn(this.url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          "content-type": "application/json",
          "content-encoding": "gzip",
        },
        body,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      return { kind: "retryable", error: asError(err, `could not reach the collector at ${this.url}`) };
    }
    let answer: IngestAnswer = {};
    try {
      answer = (await response.json()) as IngestAnswer;
    } catch {
      // A proxy's HTML error page: the status decides.
    }
    if (response.ok) {
      return {
        kind: "success",
        accepted: answer.accepted ?? 0,
        rejected: answer.rejected?.length ?? 0,
        duplicates: answer.duplicates?.length ?? 0,
      };
    }
    const what = `the collector answered ${response.status}${answer.code ? ` ${answer.code}` : ""}${answer.message ? `: ${answer.message}` : ""}`;
    if (RETRYABLE_STATUSES.has(response.status)) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return { kind: "retryable", error: new Error(what), ...(retryAfterMs !== undefined && { retryAfterMs }) };
    }
    return { kind: "failure", error: new Error(what), splittable: response.status === 413 };
  }
}

function asError(err: unknown, context: string): Error {
  const cause = err instanceof Error ? err : new Error(String(err));
  return new Error(`${context}: ${cause.message}`, { cause });
}
