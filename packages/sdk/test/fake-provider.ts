import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

const FIXTURES = new URL("./fixtures/", import.meta.url);

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}

export function fixtureJson(name: string): Record<string, unknown> {
  return JSON.parse(fixtureText(name)) as Record<string, unknown>;
}

interface SseEvent {
  event?: string;
  data: string;
}

export function parseSseFixture(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const ev: SseEvent = { data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) ev.event = line.slice(7);
        else if (line.startsWith("data: ")) ev.data = line.slice(6);
      }
      return ev;
    });
}

/** One scripted answer, used instead of the fixture for the next matching request. */
export type Scripted =
  | { kind: "status"; status: number; body: unknown; headers?: Record<string, string> }
  /** Holds the request until the client gives up (for timeouts). */
  | { kind: "hang" };

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Record<string, unknown>;
}

/**
 * An OpenAI- and Anthropic-shaped HTTP server on 127.0.0.1 that replays the fixtures: the
 * official clients, pointed at it by baseURL, cannot tell it from the provider for the calls
 * the tests make. Streams are written one event at a time, `eventDelayMs` apart.
 */
export class FakeProvider {
  readonly requests: ReceivedRequest[] = [];
  /** Streams whose client went away before the last event. */
  cancelledStreams = 0;
  eventDelayMs = 2;
  /** How long a plain (not streamed) answer is held, so that many calls are in flight at once. */
  answerDelayMs = 0;
  private gate: Promise<void> | null = null;
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  static async start(): Promise<FakeProvider> {
    const fake = new FakeProvider();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Holds every plain answer until the returned function is called: calls stay in flight
   * together for as long as a test needs, however slowly they arrive.
   */
  holdAnswers(): () => void {
    let release = () => {};
    this.gate = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      this.gate = null;
      release();
    };
  }

  /** The next requests to `path` (e.g. "/v1/chat/completions") get these answers, in order. */
  script(path: string, ...answers: Scripted[]): void {
    this.scripts.set(path, [...(this.scripts.get(path) ?? []), ...answers]);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    // Azure's deployment paths reach the same APIs.
    const path = ((req.url ?? "/").split("?")[0] as string).replace(/^\/openai\/deployments\/[^/]+/, "/v1");
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      // left empty: the route answers 400 below
    }
    this.requests.push({ path, headers: req.headers, body });
    const scripted = this.scripts.get(path)?.shift();
    if (scripted?.kind === "hang") return; // the client's timeout ends it
    if (scripted?.kind === "status") {
      res.writeHead(scripted.status, { "content-type": "application/json", ...scripted.headers });
      res.end(JSON.stringify(scripted.body));
      return;
    }
    const stream = body.stream === true;
    const tools = Array.isArray(body.tools) && body.tools.length > 0;
    switch (path) {
      case "/v1/chat/completions":
        if (!stream) return this.json(res, tools ? "openai-chat-tools.json" : "openai-chat.json");
        return this.sse(res, tools ? "openai-chat-tools-stream.sse" : "openai-chat-stream.sse", (events) => chatUsageAsAsked(events, body));
      case "/v1/responses":
        return stream ? this.sse(res, "openai-responses-stream.sse") : this.json(res, "openai-responses.json");
      case "/v1/embeddings":
        return this.embeddings(res, body);
      case "/v1/messages":
        return stream ? this.sse(res, "anthropic-messages-stream.sse") : this.json(res, "anthropic-messages.json");
      default:
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${path}`, type: "invalid_request_error" } }));
    }
  }

  private async json(res: ServerResponse, fixture: string): Promise<void> {
    if (this.gate) await this.gate;
    if (this.answerDelayMs > 0) await new Promise((r) => setTimeout(r, this.answerDelayMs));
    res.writeHead(200, { "content-type": "application/json", "x-request-id": `req_${this.requests.length}` });
    res.end(fixtureText(fixture));
  }

  /** The clients ask for base64 (float32, little-endian) unless told otherwise, as the API allows. */
  private embeddings(res: ServerResponse, body: Record<string, unknown>): void {
    const recorded = fixtureJson("openai-embeddings.json") as { data: Array<{ embedding: number[] | string }> };
    if (body.encoding_format === "base64") {
      for (const d of recorded.data) {
        d.embedding = Buffer.from(new Float32Array(d.embedding as number[]).buffer).toString("base64");
      }
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(recorded));
  }

  private async sse(res: ServerResponse, fixture: string, transform = (e: SseEvent[]) => e): Promise<void> {
    const events = transform(parseSseFixture(fixtureText(fixture)));
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    let closed = false;
    res.on("close", () => {
      if (!res.writableFinished) {
        closed = true;
        this.cancelledStreams++;
      }
    });
    for (const ev of events) {
      if (closed) return;
      res.write(`${ev.event ? `event: ${ev.event}\n` : ""}data: ${ev.data}\n\n`);
      await new Promise((r) => setTimeout(r, this.eventDelayMs));
    }
    res.end();
  }
}

/**
 * The chat fixture was recorded with `include_usage`; without it the API sends no `usage`
 * key and no usage chunk, so neither does the fake.
 */
function chatUsageAsAsked(events: SseEvent[], body: Record<string, unknown>): SseEvent[] {
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) return events;
  const out: SseEvent[] = [];
  for (const ev of events) {
    if (ev.data === "[DONE]") {
      out.push(ev);
      continue;
    }
    const chunk = JSON.parse(ev.data) as Record<string, unknown>;
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0) continue;
    const { usage: _, ...rest } = chunk;
    out.push({ ...ev, data: JSON.stringify(rest) });
  }
  return out;
}
