import { isAbortError } from "./sse-relay.js";

export type ObservedEnd = "done" | "aborted" | "failed";

/**
 * The same stream, read through: each chunk is shown to `onChunk` as the caller pulls it, and
 * `onEnd` says once how it ended (finished, cancelled by the caller, or failed).
 */
export function observeStream<T>(
  stream: ReadableStream<T>,
  onChunk: (chunk: T) => void,
  onEnd: (end: ObservedEnd) => void,
): ReadableStream<T> {
  const reader = stream.getReader();
  let ended = false;
  const end = (e: ObservedEnd) => {
    if (ended) return;
    ended = true;
    try {
      onEnd(e);
    } catch {
      // Measuring never breaks the caller's stream.
    }
  };
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end("done");
          controller.close();
          return;
        }
        try {
          onChunk(value);
        } catch {
          // as above
        }
        controller.enqueue(value);
      } catch (err) {
        end(isAbortError(err) ? "aborted" : "failed");
        controller.error(err);
      }
    },
    async cancel(reason) {
      end("aborted");
      await reader.cancel(reason);
    },
  });
}
