import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { CosttrailError } from "@costtrail/core";
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, type RunningServer, startServer } from "@costtrail/server";
import type { Command } from "commander";
import { ApiClient } from "../client.js";
import { DEMO_CONFIG, demoConfigPath } from "../demo/demo-config.js";
import { loadDemo } from "./demo.js";

interface ServeFlags {
  port: string;
  host: string;
  dataDir: string;
  config?: string;
  demo?: boolean;
  demoEvents: string;
  quiet?: boolean;
  logLevel: string;
}

/** The dashboard's built files, from the @costtrail/web package beside this one; null when it is not installed. */
export function dashboardRoot(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@costtrail/web/package.json")), "dist");
  } catch {
    return null;
  }
}

/** Turns the usual start failures into errors that say what to do. */
async function startServerOrExplain(options: Parameters<typeof startServer>[0]): Promise<RunningServer> {
  try {
    return await startServer(options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE") {
      throw new CosttrailError(
        "CT_INVALID_ARGUMENT",
        `--port: ${options?.host ?? DEFAULT_HOST}:${options?.port} is already in use; pass another --port`,
        { path: ["--port"], cause: e },
      );
    }
    if (err.code === "EACCES")
      throw new CosttrailError("CT_INVALID_ARGUMENT", `--port: not allowed to listen on ${options?.port}`, { path: ["--port"], cause: e });
    if (typeof err.message === "string" && err.message.includes("Could not set lock")) {
      throw new CosttrailError(
        "CT_INVALID_ARGUMENT",
        `--data-dir: the ledger in ${options?.dataDir} is open in another costtrail process`,
        { path: ["--data-dir"], cause: e },
      );
    }
    throw e;
  }
}

/** Runs until SIGTERM/SIGINT, then finishes in-flight batches and closes the ledger cleanly. */
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

export async function serve(flags: ServeFlags): Promise<RunningServer> {
  if (!LOG_LEVELS.includes(flags.logLevel))
    throw new CosttrailError("CT_INVALID_ARGUMENT", `--log-level: must be one of ${LOG_LEVELS.join(", ")}`, { path: ["--log-level"] });
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CosttrailError("CT_INVALID_ARGUMENT", "--port: must be an integer from 0 to 65535", { path: ["--port"] });
  // With --demo and no --config, the demo's budgets, ceilings and alerts come along.
  const demoConfig = !flags.config && flags.demo;
  const configFile = flags.config ?? (demoConfig ? demoConfigPath(flags.dataDir) : undefined);
  const server = await startServerOrExplain({
    port,
    host: flags.host,
    dataDir: flags.dataDir,
    ...(configFile && { configFile }),
    ...(demoConfig && { initialConfig: DEMO_CONFIG }),
    webRoot: dashboardRoot(),
    logger: flags.quiet
      ? false
      : {
          level: flags.logLevel,
          redact: ["req.headers.authorization", 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers["x-costtrail-key"]'],
        },
  });
  process.stderr.write(`Costtrail listening on ${server.url} — ledger in ${server.dataDir}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: finishing in-flight batches…\n`);
    server.close().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`shutdown failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  // The config file is also watched; SIGHUP reloads it at once.
  process.on("SIGHUP", () => {
    void server
      .reload()
      .then((r) => process.stderr.write(r.ok ? "SIGHUP: configuration reloaded\n" : `SIGHUP: configuration not reloaded: ${r.error}\n`));
  });
  process.on("SIGINT", () => stop("SIGINT"));
  if (flags.demo) {
    const existing = await server.store.count({ projects: null });
    if (existing === 0) {
      const r = await loadDemo(new ApiClient(server.url, server.adminKey), {
        events: Number(flags.demoEvents),
        days: 30,
        seed: 42,
        quiet: flags.quiet ?? false,
      });
      process.stderr.write(`Demo data loaded: ${r.accepted} events in ${r.seconds.toFixed(1)} s\n`);
    } else process.stderr.write(`Ledger already holds ${existing} events; demo data not loaded again\n`);
    if (demoConfig && configFile) {
      // One request to exceed a budget, waiting for an admin: the dashboard's approvals have something to show.
      if (existing === 0)
        await new ApiClient(server.url, server.adminKey)
          .json("POST", "/v1/budgets/code-review-weekly/overrides", {
            amount_usd: "20.00",
            reason: "Release week: the review agent runs on every pull request",
            expires_in: "7d",
          })
          .catch((e) => process.stderr.write(`demo override request not made: ${(e as Error).message}\n`));
      // Twice: the first call may join an evaluation the engine's timer began while the demo
      // was still loading; the second sees the whole month, so its alerts are logged before the banner.
      await server.alerts.evaluate();
      await server.alerts.evaluate();
      process.stderr.write(`Demo budgets, agent-run ceilings and alerts: ${configFile} (edit it; the server reloads it)\n`);
    }
  }
  // Log lines go to stdout through pino's buffer: flush them first, so that when both streams
  // end up in one terminal or file, how to sign in is the last thing there.
  const log = server.app.log;
  await new Promise<void>((resolve) => ("flush" in log && typeof log.flush === "function" ? log.flush(() => resolve()) : resolve()));
  process.stderr.write(signInInstructions(server));
  return server;
}

/** The last thing `serve` prints, so the key is not scrolled away by what comes before it. */
export function signInInstructions(server: RunningServer, cwd = process.cwd()): string {
  const file = server.adminKeyFile;
  const lines = [""];
  let key: string;
  if (file === null) {
    lines.push("Admin key: the one in COSTTRAIL_ADMIN_KEY.");
    key = '"$COSTTRAIL_ADMIN_KEY"';
  } else {
    // The CLI looks for .costtrail/admin.key under the directory it runs in.
    const found = relative(cwd, file) === join(DEFAULT_DATA_DIR, "admin.key") ? `; costtrail commands run in ${cwd} find it` : "";
    if (server.adminKeyCreated) {
      lines.push(`Admin key (shown once; kept in ${file}, mode 0600${found}):`, `  ${server.adminKey}`);
      key = server.adminKey;
    } else {
      lines.push(`Admin key: in ${file}${found}.`);
      key = `"$(cat ${file})"`;
    }
  }
  lines.push(
    "Dashboard: open this link to sign in as the admin (it works once, for a day; sign in later with a key):",
    `  ${server.signInLink()}`,
    "Use the key from a shell or another machine with:",
    `  export COSTTRAIL_URL=${server.url}`,
    `  export COSTTRAIL_API_KEY=${key}`,
    `or send "Authorization: Bearer <key>" to ${server.url}/v1/…`,
    "",
  );
  return lines.join("\n");
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the Costtrail server (collector, query API) on the embedded DuckDB ledger")
    .option("--port <n>", "port", String(DEFAULT_PORT))
    .option("--host <host>", "interface to bind", DEFAULT_HOST)
    .option("--data-dir <dir>", "where the ledger and the admin key live", DEFAULT_DATA_DIR)
    .option("--config <file>", "costtrail.yaml")
    .option("--demo", "load a month of demo traffic when the ledger is empty")
    .option("--demo-events <n>", "events for --demo", "100000")
    .option("--quiet", "no logs")
    .option("--log-level <level>", "info: one summary line of requests a minute; debug: a line per request", "info")
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}
