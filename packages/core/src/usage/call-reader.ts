import type { Api, UsageEvent } from "../event/usage-event.js";

/** What one response says about usage, as far as it has been read. */
export interface UsageReading {
  /** The provider's usage object, verbatim, for the server to normalize and price. */
  rawUsage?: Record<string, unknown>;
  /** The model the provider says answered. */
  model?: string;
  serviceTier?: string;
}

/** One server-sent event as the parser hands it over. */
export interface SseMessage {
  readonly event?: string;
  readonly data: string;
  readonly id?: string;
}

/** Reads one streamed response event by event. */
export interface StreamReader extends UsageReading {
  /**
   * Looks at one event. Returns the event to pass on: the same object, a changed one, or null
   * to leave it out (only when this reader asked for usage the caller did not).
   */
  onEvent(message: SseMessage): SseMessage | null;
  /** Whether the last event carried content: the first one marks time to first token. */
  readonly sawContent: boolean;
  /** Content events seen; an estimate of output tokens when the stream ends without usage. */
  readonly contentEvents: number;
  /** The stream said it failed (an `error` event). */
  readonly streamError?: string;
  /**
   * The provider's last event has been seen: a client that stops reading after it (newer
   * clients cancel the body on `[DONE]`) finished the call, it did not abort it.
   */
  readonly finished: boolean;
}

/** What every stream reader keeps; subclasses read their API's events. */
export abstract class StreamReaderBase implements StreamReader {
  /** The last usage object the stream reported. */
  protected usage?: Record<string, unknown>;
  model?: string;
  serviceTier?: string;
  sawContent = false;
  contentEvents = 0;
  streamError?: string;
  finished = false;

  abstract onEvent(message: SseMessage): SseMessage | null;

  get rawUsage(): Record<string, unknown> | undefined {
    return this.usage;
  }

  protected content(): void {
    this.sawContent = true;
    this.contentEvents++;
  }
}

/** What a request is, read from its JSON body before it is sent. */
export interface RequestPlan {
  readonly requestedModel: string | undefined;
  readonly streamed: boolean;
  /** The body to send instead, when usage had to be asked for. */
  readonly body?: string;
  /** Usage was asked for on the caller's behalf: its chunks are taken out of the stream. */
  readonly usageInjected: boolean;
}

/**
 * One provider API, as a client or a proxy sees its calls: what a request asks for, and where a
 * response body or an event stream keeps the usage and the model that answered. Pure: it reads
 * parsed JSON and event data, the caller does the I/O.
 */
export interface CallReader {
  readonly api: Api;
  readonly operation: NonNullable<UsageEvent["operation"]>;
  plan(body: Record<string, unknown>): RequestPlan;
  readBody(body: unknown): UsageReading;
  streamReader(plan: RequestPlan): StreamReader;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function stringOf(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One event in server-sent event framing, as a stream rewritten on a client's behalf sends it on. */
export function encodeSseMessage(m: SseMessage): string {
  let text = m.event ? `event: ${m.event}\n` : "";
  if (m.id) text += `id: ${m.id}\n`;
  for (const line of m.data.split("\n")) text += `data: ${line}\n`;
  return `${text}\n`;
}
