import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, startServer } from "@costtrail/server";

/** A ledger row as `GET /v1/events` returns it. */
export type LedgerRow = Record<string, unknown> & { id: string; cost_usd: string | null; tags: Record<string, string> | null };

/**
 * A real Costtrail server from packages/server on 127.0.0.1, on a DuckDB file in a temporary
 * directory; `restart()` brings it back on the same port and data after `stop()`.
 */
export class Collector {
  private server: RunningServer | undefined;
  private port = 0;
  readonly adminKey = `test-admin-key-${"x".repeat(32)}`;

  private configFile: string | undefined;

  private constructor(readonly dataDir: string) {}

  /** A collector; with `config`, the text of its costtrail.yaml (budgets, agent-run ceilings). */
  static async start(config?: string): Promise<Collector> {
    const c = new Collector(await mkdtemp(join(tmpdir(), "costtrail-sdk-collector-")));
    if (config !== undefined) {
      c.configFile = join(c.dataDir, "costtrail.yaml");
      await writeFile(c.configFile, config);
    }
    await c.restart();
    return c;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.server = await startServer({
      port: this.port,
      host: "127.0.0.1",
      dataDir: this.dataDir,
      logger: false,
      watchConfig: false,
      env: { COSTTRAIL_ADMIN_KEY: this.adminKey },
      ...(this.configFile && { configFile: this.configFile }),
    });
    this.port = Number(new URL(this.server.url).port);
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Every event in the ledger, newest first. */
  async events(filter: Record<string, string> = {}): Promise<LedgerRow[]> {
    const rows: LedgerRow[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ limit: "1000", ...filter, ...(cursor && { cursor }) });
      const res = await fetch(`${this.url}/v1/events?${q}`, { headers: { authorization: `Bearer ${this.adminKey}` } });
      if (!res.ok) throw new Error(`GET /v1/events: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { events: LedgerRow[]; next_cursor: string | null };
      rows.push(...page.events);
      cursor = page.next_cursor;
    } while (cursor);
    return rows;
  }
}
