import { unwatchFile, watchFile } from "node:fs";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { isMainThread } from "node:worker_threads";
import type { RateCard } from "@costtrail/core";
import { loadDefaultRateCard } from "@costtrail/core/default-rate-card";
import type { FastifyInstance } from "fastify";
import { type ApiKeyRecord, KeyRing, hashApiKey } from "./auth/api-keys.js";
import { ADMIN_KEY_FILE, bootstrapAdminKey } from "./auth/bootstrap-key.js";
import { SessionBook } from "./auth/session-book.js";
import { type CosttrailConfig, defaultConfig, loadConfig, memoryPlan } from "./config/load-config.js";
import { buildApp } from "./app.js";
import { AgentRunTracker } from "./budgets/agent-run-tracker.js";
import { AlertEngine } from "./alerts/alert-engine.js";
import { BudgetService } from "./budgets/budget-service.js";
import { OverrideBook } from "./budgets/override-book.js";
import { observeAppends } from "./budgets/observe-appends.js";
import type { CounterStore } from "./counters/counter-store.js";
import { MemoryCounterStore } from "./counters/memory/memory-counter-store.js";
import { RedisCounterStore } from "./counters/redis/redis-counter-store.js";
import type { PreForwardCheck } from "./gateway/pre-forward-check.js";
import type { Scope } from "./config/load-config.js";
import { openDuckDBLedger } from "./store/duckdb/open-ledger.js";
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
  /**
   * Written to `configFile` when no file is there yet, once the port is known to be free (the
   * demo's budgets and alerts): a busy port is still reported before anything is written.
   */
  readonly initialConfig?: string;
  /** Reload the configuration file when it changes (default true). */
  readonly watchConfig?: boolean;
  /** Run the ledger on its own thread (default: when running compiled JavaScript). */
  readonly storeThread?: boolean;
  /** Retry timing of alert deliveries (tests shorten it). */
  readonly alertDelivery?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number; readonly maxAttempts?: number };
  /** Checks the gateway runs on each request before forwarding it (budgets plug in here). */
  readonly gatewayChecks?: () => readonly PreForwardCheck[];
  /** The dashboard's built files (the CLI passes @costtrail/web's); absent, the dashboard's paths say it is not built. */
  readonly webRoot?: string | null;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly store: LedgerStore;
  readonly budgets: BudgetService;
  readonly alerts: AlertEngine;
  readonly url: string;
  readonly adminKey: string;
  /** Where the admin key is kept; null when it came from COSTTRAIL_ADMIN_KEY. */
  readonly adminKeyFile: string | null;
  /** True on the first start, when the key was just generated: the only time to show it. */
  readonly adminKeyCreated: boolean;
  readonly dataDir: string;
  /**
   * A new one-time link that signs a browser in to the dashboard as the admin. The token is in
   * the URL's fragment, which browsers never send to a server, and the page removes it from
   * the address bar (and so from history) as it signs in.
   */
  signInLink(ttlMs?: number): string;
  /** Re-reads the configuration file; an invalid one is reported and the current one kept. */
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Finishes in-flight requests and batches, checkpoints the ledger, and closes. */
  close(): Promise<void>;
}

/** How often last-used times are written: a write per request would put the ledger on every request's path. */
const KEY_USAGE_FLUSH_MS = 30_000;

const BOOTSTRAP_KEY_ID = "bootstrap-admin";
/** A start banner's sign-in link works once, within a day of the start. */
const SIGN_IN_LINK_TTL_MS = 86_400_000;

function bootstrapKey(adminKey: string): ApiKeyRecord {
  return {
    id: BOOTSTRAP_KEY_ID,
    name: "bootstrap admin",
    hash: hashApiKey(adminKey),
    scopes: new Set<Scope>(["admin"]),
    projects: null,
    source: "bootstrap",
  };
}

function configuredKeys(config: CosttrailConfig): ApiKeyRecord[] {
  return config.api_keys.map((k) => ({
    id: `config:${k.name}`,
    name: k.name,
    hash: k.hash,
    scopes: new Set(k.scopes),
    projects: k.projects,
    source: "config" as const,
  }));
}

/** The ring at start: every key with its revocation, and last-used times from earlier runs. */
async function keyRing(config: CosttrailConfig, store: LedgerStore, adminKey: string): Promise<KeyRing> {
  const ring = new KeyRing();
  const stored = (await store.listApiKeys()).map(
    (k): ApiKeyRecord => ({
      id: k.id,
      name: k.name,
      hash: k.hash,
      scopes: new Set(k.scopes as Scope[]),
      projects: k.projects,
      source: "store",
      created_ms: k.created_ms,
      revoked_ms: k.revoked_ms,
    }),
  );
  ring.replace([bootstrapKey(adminKey), ...configuredKeys(config), ...stored]);
  ring.loadUsage(await store.keyUsage());
  return ring;
}

/**
 * Fails with EADDRINUSE (or EACCES) when host:port cannot be bound, so a busy port is reported
 * before anything is written to disk. Port 0 is always free.
 */
async function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done()));
  });
}

const LEDGER_FILE = "ledger.duckdb";

/** The data directory 0700 and the ledger and key files in it 0600, also when they were made by an older version. */
async function restrictDataDir(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o700);
  for (const name of await readdir(dataDir)) {
    if (name === ADMIN_KEY_FILE || name.startsWith(LEDGER_FILE)) await chmod(join(dataDir, name), 0o600).catch(() => {});
  }
}

/** Starts Costtrail on one machine: config, DuckDB ledger, rate card, keys, HTTP server. */
export async function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const port = opts.port ?? DEFAULT_PORT;
  const host = opts.host ?? DEFAULT_HOST;
  if (opts.initialConfig !== undefined && opts.configFile) {
    await probePort(host, port);
    await mkdir(dirname(resolve(opts.configFile)), { recursive: true, mode: 0o700 });
    await writeFile(opts.configFile, opts.initialConfig, { flag: "wx", mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
  // A reload builds a new config and rate card and swaps both at once; requests read whichever is current.
  let current: { config: CosttrailConfig; rateCard: RateCard } = await (async () => {
    const config = opts.configFile ? await loadConfig(opts.configFile) : defaultConfig();
    return { config, rateCard: await loadDefaultRateCard(config.pricing) };
  })();
  const config = current.config;
  await probePort(host, port);
  // DuckDB, and the ledger thread that opens live segments later, create files with the
  // process umask; only the main thread may change it (workers throw).
  const previousUmask = isMainThread ? process.umask(0o077) : null;
  if (previousUmask !== null) process.umask(previousUmask | 0o077);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await restrictDataDir(dataDir);
  const admin = await bootstrapAdminKey(dataDir, opts.env ?? process.env);
  const storeOptions = {
    path: join(dataDir, LEDGER_FILE),
    duckdbMemoryLimitBytes: memoryPlan(config.server.memory_limit_bytes).duckdbBytes,
    maxPendingRows: config.server.max_pending_events,
    segmentRows: config.server.segment_events,
    idempotency: { windowMs: config.server.idempotency_window_ms, maxIds: config.server.idempotency_window_events },
  };
  // Compiled, the ledger runs on its own thread; from TypeScript sources (tests) it runs inline.
  const ledger: LedgerStore = await openDuckDBLedger({ ...storeOptions, thread: opts.storeThread ?? import.meta.url.endsWith(".js") });
  let app: FastifyInstance | undefined;
  const runs = new AgentRunTracker(() => current.config.agent_runs);
  const overrides = new OverrideBook(ledger);
  await overrides.load();
  const counterSettings = config.counters;
  const counters: CounterStore =
    counterSettings.store === "redis"
      ? await RedisCounterStore.connect({ url: counterSettings.redis_url as string, keyPrefix: counterSettings.key_prefix }, (err) =>
          app?.log.warn({ cause: err.message }, "redis counters: connection error"),
        ).catch(async (e) => {
          await ledger.close().catch(() => {});
          throw e;
        })
      : new MemoryCounterStore();
  const budgets = new BudgetService({
    budgets: () => current.config.budgets,
    rateCard: () => current.rateCard,
    counters,
    reservationTtlMs: () => current.config.counters.reservation_ttl_ms,
    onUnavailable: () => current.config.counters.on_unavailable,
    runs,
    override: (budget, scope, nowMs) => overrides.activeNano(budget, scope, nowMs),
    log: () => app?.log,
  });
  // Every append, whichever door it came through, is counted in the budgets it falls in.
  const store = observeAppends(
    ledger,
    (events, result) => budgets.observe(events, result),
    () => app?.log,
  );
  // Counters are a cache of the ledger: seeded from it before the first call can be checked.
  // Replicas sharing Redis seed a budget once: the first to start reads its ledger.
  await budgets.sync(store);
  let address = "";
  const alerts = new AlertEngine({
    settings: () => current.config.alerts,
    store,
    budgets,
    runs,
    env: () => opts.env ?? process.env,
    log: () => app?.log,
    serverUrl: () => address,
    ...(opts.alertDelivery && { delivery: opts.alertDelivery }),
  });
  let shuttingDown = false;
  const keys = await keyRing(config, store, admin.key);
  const sessions = new SessionBook();
  app = await buildApp({
    sessions,
    webRoot: opts.webRoot ?? null,
    store,
    rateCard: () => current.rateCard,
    keys,
    config: () => current.config,
    logger:
      opts.logger === undefined
        ? {
            level: "info",
            redact: ["req.headers.authorization", 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers["x-costtrail-key"]'],
          }
        : opts.logger,
    isShuttingDown: () => shuttingDown,
    env: opts.env ?? process.env,
    ...(opts.gatewayChecks && { gatewayChecks: opts.gatewayChecks }),
    budgets,
    overrides,
    alerts,
  });
  try {
    address = await app.listen({ port, host });
    await alerts.start();
  } catch (e) {
    // Release the ledger's file lock so the caller can report the error and exit cleanly.
    await app.close().catch(() => {});
    budgets.close();
    await store.close().catch(() => {});
    throw e;
  }
  let usageWrites = Promise.resolve();
  const saveKeyUsage = (): Promise<void> =>
    (usageWrites = usageWrites.then(async () => {
      const batch = keys.takeUsage();
      try {
        await store.touchApiKeys(batch);
      } catch (e) {
        keys.returnUsage(batch);
        app.log.warn({ err: e }, "key last-used times not saved; retrying at the next flush");
      }
    }));
  const usageTimer = setInterval(() => void saveKeyUsage(), KEY_USAGE_FLUSH_MS);
  usageTimer.unref();
  let closing: Promise<void> | null = null;
  const reload = async (): Promise<{ ok: true } | { ok: false; error: string }> => {
    if (!opts.configFile) return { ok: false, error: "no configuration file to reload" };
    try {
      const next = await loadConfig(opts.configFile);
      const rateCard = await loadDefaultRateCard(next.pricing);
      current = { config: next, rateCard };
      // Only the file's keys change: created keys, their revocations and every last-used time stay as they are.
      keys.replaceSource("config", configuredKeys(next));
      // Budgets whose definition changed get fresh counters, read from the ledger.
      await budgets.sync(store);
      if (
        JSON.stringify(next.server) !== JSON.stringify(config.server) ||
        ["store", "redis_url", "key_prefix"].some((k) => next.counters[k as "store"] !== config.counters[k as "store"])
      ) {
        app.log.warn({ file: opts.configFile }, "server and counters settings change on restart only");
      }
      app.log.info({ file: opts.configFile }, "configuration reloaded");
      return { ok: true };
    } catch (e) {
      // An invalid file never replaces a working configuration.
      app.log.error({ file: opts.configFile, err: e }, "configuration not reloaded");
      return { ok: false, error: (e as Error).message };
    }
  };
  const watcher =
    opts.configFile && opts.watchConfig !== false
      ? watchFile(opts.configFile, { interval: 500, persistent: false }, (now, before) => {
          if (now.mtimeMs !== before.mtimeMs) void reload();
        })
      : null;
  return {
    app,
    store,
    budgets,
    alerts,
    url: address,
    adminKey: admin.key,
    adminKeyFile: admin.file,
    signInLink: (ttlMs = SIGN_IN_LINK_TTL_MS) => `${address}/#sign-in=${sessions.createLink(BOOTSTRAP_KEY_ID, ttlMs)}`,
    adminKeyCreated: admin.created,
    dataDir,
    reload,
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        if (watcher && opts.configFile) unwatchFile(opts.configFile);
        // Sockets that go idle after their last in-flight response are closed as they do.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
          clearInterval(usageTimer);
        }
        await saveKeyUsage();
        alerts.close();
        budgets.close();
        await counters.close();
        await store.close();
      })();
      return closing;
    },
  };
}
