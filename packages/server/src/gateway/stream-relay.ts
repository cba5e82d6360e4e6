import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { type StreamEnd, type StreamReader, encodeSseMessage } from "@costtrail/core";
import { createParser } from "eventsource-parser";

/** Where a budget stops a stream: after this many content events (about one token each). */
export interface StreamCutoff {
  readonly maxContentEvents: number;
  /** The SSE text sent to the client instead of the rest: an error in the provider's shape. */
  readonly errorEvent: string;
}

/**
 * Copies an upstream event stream to the client chunk by chunk as it arrives, showing each event
 * to `reader`. With `rewrite` (usage asked for on the client's behalf) the client gets the events
 * the reader passes, re-encoded; otherwise the upstream bytes unchanged. Waits for the client to
 * drain, so a slow client slows the upstream read instead of filling memory. Ends as `aborted`
 * when the client went away (or `signal` fired) before the provider's last event.
 */
export async function relayStream(
  upstream: ReadableStream<Uint8Array>,
  res: ServerResponse,
  reader: StreamReader,
  rewrite: boolean,
  onFirstContent: () => void,
  cutoff?: StreamCutoff,
): Promise<StreamEnd | "cut"> {
  const decoder = new TextDecoder();
  let out = "";
  let first = true;
  const parser = createParser({
    onEvent(event) {
      const passed = reader.onEvent({ data: event.data, ...(event.event && { event: event.event }), ...(event.id && { id: event.id }) });
      if (reader.sawContent && first) {
        first = false;
        onFirstContent();
      }
      if (rewrite && passed) out += encodeSseMessage(passed);
    },
  });
  try {
    for await (const chunk of upstream as unknown as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (res.destroyed) return reader.finished ? "done" : "aborted";
      if (cutoff && !reader.finished && reader.contentEvents > cutoff.maxContentEvents) {
        // Past what the budget allows: the client gets the provider's error event, not more content.
        res.write(cutoff.errorEvent);
        return "cut";
      }
      const bytes = rewrite ? out : chunk;
      out = "";
      if (bytes.length === 0) continue;
      if (!res.write(bytes)) {
        await Promise.race([once(res, "drain"), once(res, "close")]);
        if (res.destroyed) return reader.finished ? "done" : "aborted";
      }
    }
    parser.feed(decoder.decode());
    if (rewrite && out) res.write(out);
    return "done";
  } catch (err) {
    if (reader.finished) return "done";
    return res.destroyed || (err as { name?: string }).name === "AbortError" ? "aborted" : "failed";
  }
}
