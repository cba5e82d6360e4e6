import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { RateCard } from "@costtrail/core";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import type { FastifyInstance } from "fastify";
import { type ApiKeyRecord, KeyRing, hashApiKey } from "./auth/api-keys.js";
import { bootstrapAdminKey } from "./auth/bootstrap-key.js";
import { type CosttrailConfig, defaultConfig, loadConfig } from "./config/load-config.js";
import { buildApp } from "./app.js";
import type { Scope } from "./config/load-config.js";
import { DuckDBLedgerStore } from "./store/duckdb/duckdb-store.js";
import { WorkerLedgerStore } from "./store/duckdb/worker-store.js";
import type { LedgerStore } from "./store/ledger-store.js";

export const DEFAULT_PORT = 4680;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_DATA_DIR = ".costtrail";

export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly dataDir?: string;
  readonly configFile?: string;
  /** Pino logger options, or false to log nothing (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Run the ledger on its own thread (default: when running compiled JavaScript). */
  readonly storeThread?: boolean;
  /** Called once with the bootstrap admin key when it was just generated. */
  readonly onAdminKeyCreated?: (key: string, file: string) => void;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly store: LedgerStore;
  readonly url: string;
  readonly adminKey: string;
  readonly dataDir: string;
  /** Finishes in-flight requests and batches, checkpoints the ledger, and closes. */
  close(): Promise<void>;
}

async function keyRing(config: CosttrailConfig, store: LedgerStore, adminKey: string): Promise<KeyRing> {
  const ring = new KeyRing();
  const records: ApiKeyRecord[] = [
    {
      id: "bootstrap-admin",
      name: "bootstrap admin",
      hash: hashApiKey(adminKey),
      scopes: new Set<Scope>(["admin"]),
      projects: null,
      source: "bootstrap",
    },
    ...config.api_keys.map((k) => ({
      id: `config:${k.name}`,
      name: k.name,
      hash: k.hash,
      scopes: new Set(k.scopes),
      projects: k.projects,
      source: "config" as const,
    })),
    ...(await store.listApiKeys()).map((k) => ({
      id: k.id,
      name: k.name,
      hash: k.hash,
      scopes: new Set(k.scopes as Scope[]),
      projects: k.projects,
      source: "store" as const,
    })),
  ];
  ring.replace(records);
  return ring;
}

/** Starts Costtrail on one machine: config, DuckDB ledger, rate card, keys, HTTP server. */
export async function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const config = opts.configFile ? await loadConfig(opts.configFile) : defaultConfig();
  const rateCard: RateCard = await loadDefaultRateCard(config.pricing);
  const admin = await bootstrapAdminKey(dataDir, opts.env ?? process.env);
  if (admin.created && admin.file) opts.onAdminKeyCreated?.(admin.key, admin.file);
  const storeOptions = { path: join(dataDir, "ledger.duckdb"), maxPendingRows: config.server.max_pending_events };
  // Compiled, the ledger runs on its own thread; from TypeScript sources (tests) it runs inline.
  const store: LedgerStore =
    (opts.storeThread ?? import.meta.url.endsWith(".js"))
      ? await WorkerLedgerStore.open(storeOptions)
      : await DuckDBLedgerStore.open(storeOptions);
  let shuttingDown = false;
  const keys = await keyRing(config, store, admin.key);
  const app = await buildApp({
    store,
    rateCard: () => rateCard,
    keys,
    config: () => config,
    logger: opts.logger === undefined ? { level: "info", redact: ["req.headers.authorization"] } : opts.logger,
    isShuttingDown: () => shuttingDown,
  });
  let address: string;
  try {
    address = await app.listen({ port: opts.port ?? DEFAULT_PORT, host: opts.host ?? DEFAULT_HOST });
  } catch (e) {
    // Release the ledger's file lock so the caller can report the error and exit cleanly.
    await app.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
  let closing: Promise<void> | null = null;
  return {
    app,
    store,
    url: address,
    adminKey: admin.key,
    dataDir,
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        // Sockets that go idle after their last in-flight response are closed as they do.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        await store.close();
      })();
      return closing;
    },
  };
}
