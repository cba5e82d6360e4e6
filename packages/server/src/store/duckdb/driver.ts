import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { CosttrailError, type PreparedEvent } from "@costtrail/core";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { AppendOutcome, LedgerDriver, PlainRow, Statement } from "../ledger-driver.js";
import type { ExportFormat } from "../ledger-store.js";
import { copySql, duckdbDialect } from "./dialect.js";
import { type LedgerBatch, ledgerBatch } from "./ledger-batch.js";
import { SCHEMA_SQL } from "./schema.js";
import { Segments } from "./segments.js";
import { plainRow } from "./values.js";
import { GroupCommitWriter, type IdempotencyWindow, type IdleSeal } from "./writer.js";

export interface DuckDBDriverOptions {
  /** A file path, or ":memory:" for tests. */
  readonly path: string;
  readonly maxPendingRows?: number;
  readonly threads?: number;
  /** Rows a live segment takes before it is sealed and compacted (tests lower it). */
  readonly segmentRows?: number;
  /** How long and how many ids are remembered to catch a resent id with other content. */
  readonly idempotency?: IdempotencyWindow;
  /** When a quiet ledger seals its last live segment (tests shorten it). */
  readonly idleSeal?: IdleSeal;
  /**
   * DuckDB's own memory limit, in bytes (unset: DuckDB's default, 80% of RAM); the server
   * gives it its share of `server.memory_limit`. Past it, DuckDB spills to a temporary
   * directory beside the ledger; what cannot spill fails: a query answers 503, an append is
   * shed and its segment attached afresh (segments.ts).
   */
  readonly duckdbMemoryLimitBytes?: number;
  /** Where DuckDB spills (default: the ledger's path + ".tmp"); null for nowhere (tests). */
  readonly duckdbTempDirectory?: string | null;
  /** Rows compacted into the main file after which it is attached afresh (tests lower it). */
  readonly mainReattachRows?: number;
}

/** The main file's catalog name once attached. */
const MAIN_CATALOG = "ledger";

/** The embedded ledger's I/O: one DuckDB file, one writer connection with group commit, a connection per read. */
export class DuckDBDriver implements LedgerDriver {
  readonly dialect = duckdbDialect;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** A connection whose default database is the ledger's main file. */
    private readonly connect: () => Promise<DuckDBConnection>,
    private readonly writerConn: DuckDBConnection,
    private readonly segments: Segments,
    private readonly writer: GroupCommitWriter,
  ) {}

  static async open(options: DuckDBDriverOptions): Promise<DuckDBDriver> {
    const file = options.path !== ":memory:";
    if (file) await mkdir(dirname(options.path), { recursive: true });
    // No automatic checkpoints: ingest appends to live segments that are never checkpointed
    // (see segments.ts), and the main file is checkpointed after each compaction and at close.
    const config: Record<string, string> = {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      checkpoint_threshold: "1TB",
    };
    if (options.threads) config.threads = String(options.threads);
    if (options.duckdbMemoryLimitBytes) config.memory_limit = `${Math.floor(options.duckdbMemoryLimitBytes / 1024)}KiB`;
    const temp = options.duckdbTempDirectory === undefined ? (file ? `${options.path}.tmp` : undefined) : options.duckdbTempDirectory;
    if (temp !== undefined) config.temp_directory = temp ?? "";
    // Freed memory goes back to the system in the background, so RSS falls after a compaction
    // (measured: idle RSS after 1.5M events 1.19 GiB without, ~0.4 GiB with).
    config.allocator_background_threads = "true";
    // A file ledger's main file is attached to an in-memory instance, not opened as its default
    // database, so that it can be detached and attached again: DuckDB keeps about 40 bytes for
    // every row appended to a table for as long as the database stays attached (segments.ts).
    const instance = await DuckDBInstance.create(":memory:", config);
    const main = file ? MAIN_CATALOG : null;
    if (main) {
      const first = await instance.connect();
      await first.run(`ATTACH '${options.path.replace(/'/g, "''")}' AS "${main}"`);
      first.closeSync();
    }
    const connect = async () => {
      const c = await instance.connect();
      if (main) await c.run(`USE "${main}"`);
      return c;
    };
    const conn = await connect();
    // Every timestamp in and out is UTC; a query's time zone is applied explicitly.
    await conn.run("SET GLOBAL TimeZone = 'UTC'");
    // A detached or closing live segment keeps its WAL instead of being checkpointed: it is
    // either deleted once compacted, or replayed and compacted at the next start.
    await conn.run("PRAGMA disable_checkpoint_on_shutdown");
    for (const sql of SCHEMA_SQL) await conn.run(sql);
    const segments = await Segments.open(
      { connect, control: () => instance.connect() },
      file ? options.path : null,
      options.segmentRows,
      options.mainReattachRows,
    );
    const writer = new GroupCommitWriter(conn, segments, options.maxPendingRows ?? 200_000, options.idempotency, options.idleSeal);
    return new DuckDBDriver(instance, connect, conn, segments, writer);
  }

  append(events: readonly PreparedEvent[], receivedMs = Date.now()): Promise<AppendOutcome> {
    return this.writer.append(ledgerBatch(events, receivedMs));
  }

  /** Appends rows [start, end) of a batch that carries several requests' events (the ledger thread). */
  appendRange(batch: LedgerBatch, start: number, end: number): Promise<AppendOutcome> {
    return this.writer.append(batch, start, end);
  }

  pendingRows(): number {
    return this.writer.pending();
  }

  /** Runs a read on its own connection, over the main file and the live segments as one `events` table. */
  async all(statement: Statement): Promise<PlainRow[]> {
    const conn = await this.connect();
    try {
      const result = await this.segments.read(statement.sql, (full) => conn.runAndReadAll(full, [...statement.params]));
      return result.getRowObjects().map(plainRow);
    } catch (e) {
      throw this.outOfMemory(e);
    } finally {
      conn.closeSync();
    }
  }

  async execute(statement: Statement): Promise<void> {
    const conn = await this.connect();
    try {
      // A write to the main file commits with no scan running (see Segments.exclusive).
      await this.segments.exclusive(() => conn.run(statement.sql, [...statement.params]));
    } finally {
      conn.closeSync();
    }
  }

  async copyTo(statement: Statement, path: string, format: ExportFormat): Promise<number> {
    const conn = await this.connect();
    try {
      const r = await this.segments.read(statement.sql, (full) => conn.run(copySql(full, path, format), [...statement.params]));
      return Number(r.rowsChanged);
    } catch (e) {
      throw this.outOfMemory(e);
    } finally {
      conn.closeSync();
    }
  }

  /** A read that ran out of memory is the caller's to narrow, not a failure of the store. */
  private outOfMemory(e: unknown): unknown {
    const m = /Out of Memory Error.*?\(([\d.]+ [KMGT]iB)\/([\d.]+ [KMGT]iB) used\)/is.exec((e as Error)?.message ?? "");
    if (!m && !/Out of Memory Error/i.test((e as Error)?.message ?? "")) return e;
    return new CosttrailError(
      "CT_MEMORY_LIMIT",
      `The query needs more memory than the ledger may use${m ? ` (${m[2]})` : ""}; narrow its time range or its groups`,
      { cause: e },
    );
  }

  /** Waits until every sealed live segment has been compacted into the main file. */
  settle(): Promise<void> {
    return this.segments.settle();
  }

  /** Where events are now: the live segment appended to and the sealed ones not yet compacted. */
  layout(): { current: number; sealed: number[]; mainAttachments: number } {
    return this.segments.describe();
  }

  async close(): Promise<void> {
    await this.writer.close();
    try {
      await this.segments.close();
    } finally {
      this.writerConn.closeSync();
      this.instance.closeSync();
    }
  }
}
