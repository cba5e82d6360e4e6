/**
 * A `costtrail serve` process for the benches: the built CLI on 127.0.0.1, port 0, its own
 * temporary data directory and admin key, no logs. What the benches read from outside: the
 * process's memory from /proc, and the ledger's files (live segments, their WALs, the main
 * file) from its data directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** BENCH_BIN points at another build's bin.js, for an A/B run of the same bench. */
const BIN = process.env.BENCH_BIN ?? fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url));
/** The server package of the same build, for its config loader. */
export const SERVER_BUILD = new URL("../../server/dist/index.js", pathToFileURL(BIN)).href;
const LEDGER = "ledger.duckdb";
const LIVE_RE = /^ledger\.duckdb\.live-(\d+)$/;
const LIVE_WAL_RE = /^ledger\.duckdb\.live-(\d+)\.wal$/;

export interface MemorySample {
  readonly rssMiB: number;
  /** The peak since start or the last `resetPeak`. */
  readonly hwmMiB: number;
}

export interface DiskUsage {
  readonly totalBytes: number;
  readonly mainBytes: number;
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
}

/** Every running server, so a failing bench can stop them by PID on its way out. */
const running = new Set<ChildProcess>();
export function killAllServers(): void {
  for (const child of running) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
}

export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    readonly configured: string | null,
  ) {}

  get pid(): number {
    return this.child.pid as number;
  }

  /** `config` is costtrail.yaml's text, written beside the data directory; null for none. */
  static async start(adminKey: string, config: string | null, existingDataDir?: string): Promise<ServerProcess> {
    const dataDir = existingDataDir ?? (await mkdtemp(join(tmpdir(), "ct-realistic-bench-")));
    const configFile = join(dataDir, "costtrail.yaml");
    if (config !== null) await writeFile(configFile, config);
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROFILE] : []),
        BIN,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--quiet",
        ...(config !== null ? ["--config", configFile] : []),
      ],
      { env: { ...process.env, COSTTRAIL_ADMIN_KEY: adminKey }, stdio: ["ignore", "ignore", "pipe"] },
    );
    running.add(child);
    child.on("exit", () => running.delete(child));
    const url = await new Promise<string>((resolve, reject) => {
      let err = "";
      const timer = setTimeout(() => reject(new Error(`costtrail serve did not start in 60 s: ${err}`)), 60_000);
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.on("exit", (code) => reject(new Error(`costtrail serve exited with ${code}: ${err}`)));
    });
    return new ServerProcess(child, url, dataDir, config);
  }

  /** Rewrites costtrail.yaml and has the server reload it (SIGHUP), as an operator would. */
  async reconfigure(config: string): Promise<void> {
    if (this.configured === null) throw new Error("the server was started without a configuration file");
    await writeFile(join(this.dataDir, "costtrail.yaml"), config);
    process.kill(this.pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 2000));
  }

  async memory(): Promise<MemorySample> {
    const status = await readFile(`/proc/${this.pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
  }

  /** CPU time the process has used, all threads (utime + stime; Linux ticks are 1/100 s). */
  async cpuSeconds(): Promise<number> {
    const stat = await readFile(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** Resets VmHWM to the current RSS (Linux: `5` into clear_refs), so each phase has its own peak. */
  async resetPeak(): Promise<boolean> {
    return writeFile(`/proc/${this.pid}/clear_refs`, "5").then(
      () => true,
      () => false,
    );
  }

  /** Live segment numbers present on disk: the current one, and any sealed but not yet compacted. */
  async liveSegments(): Promise<number[]> {
    return (await readdir(this.dataDir)).flatMap((f) => {
      const m = LIVE_RE.exec(f);
      return m ? [Number(m[1])] : [];
    });
  }

  /** Bytes of each live segment's WAL, by segment number. */
  async walSizes(): Promise<Map<number, number>> {
    const sizes = new Map<number, number>();
    for (const f of await readdir(this.dataDir)) {
      const m = LIVE_WAL_RE.exec(f);
      if (!m) continue;
      const s = await stat(join(this.dataDir, f)).catch(() => null);
      if (s) sizes.set(Number(m[1]), s.size);
    }
    return sizes;
  }

  async disk(): Promise<DiskUsage> {
    const files: Array<{ name: string; bytes: number }> = [];
    for (const name of await readdir(this.dataDir)) {
      const s = await stat(join(this.dataDir, name)).catch(() => null);
      if (s?.isFile()) files.push({ name, bytes: s.size });
    }
    return {
      totalBytes: files.reduce((n, f) => n + f.bytes, 0),
      mainBytes: files.find((f) => f.name === LEDGER)?.bytes ?? 0,
      files,
    };
  }

  /**
   * Waits until compaction has settled: at most one live segment on disk (the current one),
   * that one's WAL under 32 MiB (a quiet ledger seals and compacts a segment of 50,000 events
   * or more after 30 s; a smaller one waits 10 minutes by design), and RSS steady (within 16 MiB
   * over 5 s). Answers how long that took, and whether it happened before `timeoutMs`.
   */
  async settle(timeoutMs: number): Promise<{ seconds: number; settled: boolean; segments: number; rssMiB: number }> {
    const t0 = performance.now();
    const recent: number[] = [];
    for (;;) {
      const segments = (await this.liveSegments()).length;
      const walBytes = Math.max(0, ...(await this.walSizes()).values());
      const { rssMiB } = await this.memory();
      recent.push(rssMiB);
      if (recent.length > 5) recent.shift();
      const steady = recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 16;
      const seconds = (performance.now() - t0) / 1000;
      const settled = segments <= 1 && walBytes < 32 * 1024 ** 2 && steady;
      if (settled || seconds * 1000 > timeoutMs) return { seconds, settled, segments, rssMiB };
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** SIGTERM by PID, SIGKILL after 60 s; then the data directory is removed unless `keep`. */
  async stop(keep: boolean): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      process.kill(this.pid, "SIGTERM");
      const timer = setTimeout(() => this.child.exitCode === null && process.kill(this.pid, "SIGKILL"), 60_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keep) await rm(this.dataDir, { recursive: true, force: true });
  }
}
