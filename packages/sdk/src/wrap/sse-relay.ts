import { createParser } from "eventsource-parser";
import { type StreamEnd, type StreamReader, encodeSseMessage } from "@costtrail/core";

export interface RelayHooks {
  /** The first event that carried content arrived. */
  onFirstContent(): void;
  /** Called once, however the stream ends. */
  onEnd(end: StreamEnd): void;
}

export function isAbortError(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    ((err as { name?: string }).name === "AbortError" || (err as { name?: string }).name === "TimeoutError")
  );
}

/**
 * Passes a server-sent event stream on to the caller as the caller reads it, showing each event
 * to `reader` on the way. Nothing is read ahead of the caller and nothing is buffered beyond the
 * event being parsed, so a caller that stops reading, cancels or aborts ends the upstream read
 * at that point, and `onEnd` says which.
 *
 * When `rewrite` is false the caller gets the upstream bytes unchanged; when true (usage was
 * asked for on the caller's behalf) it gets the events `reader` returns, re-encoded.
 */
export function relaySse(
  body: ReadableStream<Uint8Array>,
  reader: StreamReader,
  rewrite: boolean,
  hooks: RelayHooks,
): ReadableStream<Uint8Array> {
  const source = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let out = "";
  let firstContent = true;
  let ended = false;
  const end = (e: StreamEnd) => {
    if (ended) return;
    ended = true;
    hooks.onEnd(e);
  };
  const parser = createParser({
    onEvent(event) {
      const passed = reader.onEvent({ data: event.data, ...(event.event && { event: event.event }), ...(event.id && { id: event.id }) });
      if (reader.sawContent && firstContent) {
        firstContent = false;
        hooks.onFirstContent();
      }
      if (rewrite && passed) out += encodeSseMessage(passed);
    },
  });

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // With a rewrite a chunk may hold only a removed event: read on until there is output.
        for (;;) {
          const { done, value } = await source.read();
          if (done) {
            parser.feed(decoder.decode());
            if (rewrite && out) controller.enqueue(encoder.encode(out));
            out = "";
            end("done");
            controller.close();
            return;
          }
          parser.feed(decoder.decode(value, { stream: true }));
          if (!rewrite) {
            controller.enqueue(value);
            return;
          }
          if (out) {
            controller.enqueue(encoder.encode(out));
            out = "";
            return;
          }
        }
      } catch (err) {
        end(reader.finished ? "done" : isAbortError(err) ? "aborted" : "failed");
        controller.error(err);
      }
    },
    async cancel(reason) {
      end(reader.finished ? "done" : "aborted");
      await source.cancel(reason);
    },
  });
}
