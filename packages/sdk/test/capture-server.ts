import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface CapturedPost {
  readonly at: number;
  readonly headers: IncomingMessage["headers"];
  readonly events: Array<Record<string, unknown>>;
  readonly bytes: number;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: unknown };

/**
 * A stand-in collector on 127.0.0.1 that keeps every POST and answers as `answer` says: for
 * the exporter's own behaviour (gzip, batching, Retry-After, backoff), which the real
 * collector has no way to provoke on demand.
 */
export class CaptureServer {
  readonly posts: CapturedPost[] = [];
  answer: (post: CapturedPost, index: number) => Answer = (post) => ({
    status: 200,
    body: { accepted: post.events.length, duplicates: [], conflicts: [], unpriced: 0, rejected: [] },
  });
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
        const post: CapturedPost = { at: Date.now(), headers: req.headers, events: JSON.parse(text), bytes: raw.length };
        this.posts.push(post);
        const a = this.answer(post, this.posts.length - 1);
        res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
        res.end(JSON.stringify(a.body ?? {}));
      });
    });
  }

  static async start(): Promise<CaptureServer> {
    const s = new CaptureServer();
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get eventCount(): number {
    return this.posts.reduce((n, p) => n + p.events.length, 0);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
