import { type IncomingHttpHeaders, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body, as signed. */
  readonly text: string;
  readonly json: Record<string, unknown>;
  readonly at: number;
}

export type ReceiverAnswer = { status: number; body?: string; headers?: Record<string, string> };

/**
 * An HTTP endpoint on 127.0.0.1 standing in for Slack, PagerDuty or a webhook consumer: it
 * keeps every request and answers as `answer` says (by default as the service does on success).
 */
export class HttpReceiver {
  readonly received: Received[] = [];
  answer: (r: Received, index: number) => ReceiverAnswer = () => ({ status: 200, body: "ok" });
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // kept as text
        }
        const r: Received = { path: req.url ?? "/", headers: req.headers, text, json, at: Date.now() };
        this.received.push(r);
        const a = this.answer(r, this.received.length - 1);
        res.writeHead(a.status, { "content-type": "text/plain", ...a.headers });
        res.end(a.body ?? "");
      });
    });
  }

  static async start(): Promise<HttpReceiver> {
    const r = new HttpReceiver();
    await new Promise<void>((resolve) => r.server.listen(0, "127.0.0.1", resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
