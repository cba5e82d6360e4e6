import { CosttrailError } from "@costtrail/core";
import {
  BIGINT,
  BOOLEAN,
  DECIMAL,
  DOUBLE,
  type DuckDBConnection,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  INTEGER,
  LIST,
  MAP,
  TIMESTAMP,
  VARCHAR,
  listValue,
} from "@duckdb/node-api";
import type { LedgerBatch } from "./ledger-batch.js";
import type { AppendResult } from "../ledger-store.js";
import { type Selection, fillChunk } from "./chunk-writer.js";
import { RecentIds } from "./recent-ids.js";
import type { Segments } from "./segments.js";
import { COST_SCALE, EVENT_COLUMNS, MONEY_SCALE } from "./schema.js";

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;
/** Rows written in one transaction at most (well under the appender's own flush threshold). */
const MAX_BATCH_ROWS = 50_000;
/** Recent ids kept in memory (~50 MB); live traffic is checked against them without a query. */
const RECENT_IDS = 500_000;
/** How far back the recent ids reach when loaded at start. */
const RECENT_WINDOW_MS = 10 * 60_000;

function columnType(sqlType: string): DuckDBType {
  if (sqlType.startsWith("VARCHAR")) return VARCHAR;
  if (sqlType.startsWith("BIGINT")) return BIGINT;
  if (sqlType.startsWith("INTEGER")) return INTEGER;
  if (sqlType.startsWith("DOUBLE")) return DOUBLE;
  if (sqlType.startsWith("BOOLEAN")) return BOOLEAN;
  if (sqlType.startsWith("TIMESTAMP")) return TIMESTAMP;
  if (sqlType.startsWith("DECIMAL(18")) return DECIMAL(18, COST_SCALE);
  if (sqlType.startsWith("DECIMAL")) return DECIMAL(38, MONEY_SCALE);
  if (sqlType.startsWith("MAP")) return MAP(VARCHAR, VARCHAR);
  throw new Error(`no appender type for ${sqlType}`);
}

const TYPES: DuckDBType[] = EVENT_COLUMNS.map(([, t]) => columnType(t));

interface Job {
  /** The job's events are `batch` rows [start, end): appends that crossed threads together share one batch. */
  readonly batch: LedgerBatch;
  readonly start: number;
  readonly end: number;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit: requests that arrive while a batch is being written wait and go together
 * into the next one, so durability (one WAL sync per commit) does not cost throughput.
 * A batch is one appender flush, which DuckDB commits as one transaction. Ids already in
 * the ledger are skipped first: live batches against the in-memory recent ids, older ones
 * with a query bounded by the batch's time range (a retry resends the same event, so the
 * earlier copy lies in that range, and zone maps skip the rest of the ledger).
 */
export class GroupCommitWriter {
  private queue: Job[] = [];
  private queued = 0;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private recent: RecentIds | null = null;
  private appender: { target: string; appender: DuckDBAppender } | null = null;

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly segments: Segments,
    private readonly maxPendingRows: number,
  ) {}

  pending(): number {
    return this.queued;
  }

  append(batch: LedgerBatch, start = 0, end = batch.length): Promise<AppendResult> {
    const size = end - start;
    if (this.closed) return Promise.reject(new CosttrailError("CT_SHUTTING_DOWN"));
    if (size === 0) return Promise.resolve({ inserted: 0, duplicates: [] });
    if (this.queued > 0 && this.queued + size > this.maxPendingRows) {
      return Promise.reject(new CosttrailError("CT_OVERLOADED", `${this.queued} events are waiting to be written; retry shortly`));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ batch, start, end, resolve, reject });
      this.queued += size;
      if (!this.running) void this.drain();
    });
  }

  /** Stops taking rows and waits for everything queued to be committed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
    this.appender?.appender.closeSync();
    this.appender = null;
  }

  private async drain(): Promise<void> {
    this.running = true;
    this.idle = new Promise((r) => {
      this.markIdle = r;
    });
    try {
      while (this.queue.length > 0) {
        // Let requests already waiting on their sockets reach the queue first, so one commit
        // carries all of them instead of one commit per request.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const jobs: Job[] = [];
        let n = 0;
        while (this.queue.length > 0 && (n === 0 || n + sizeOf(this.queue[0] as Job) <= MAX_BATCH_ROWS)) {
          const job = this.queue.shift() as Job;
          jobs.push(job);
          n += sizeOf(job);
        }
        try {
          const existing = await this.existingIds(jobs);
          const { fresh, results } = settle(jobs, existing);
          await this.write(fresh);
          // Only after the commit: an id is "present" once it is durable.
          for (let k = 0; k < fresh.length; k++) {
            const b = fresh.batches[fresh.batch[k] as number] as LedgerBatch;
            const r = fresh.row[k] as number;
            this.recent?.add(b.id[r] as string, b.ts_ms[r] as number);
          }
          for (const [i, j] of jobs.entries()) j.resolve(results[i] as AppendResult);
          await this.segments.committed(fresh.length);
          // A sealed segment is detached once compacted: let go of it now.
          if (this.appender && this.appender.target !== this.segments.target()) {
            this.appender.appender.closeSync();
            this.appender = null;
          }
        } catch (e) {
          const err = new CosttrailError("CT_STORE_FAILED", `appending ${n} events failed: ${(e as Error).message}`, { cause: e });
          for (const j of jobs) j.reject(err);
        } finally {
          this.queued -= n;
        }
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  /** Ids of this batch already in the ledger, looked up within the batch's time range. */
  private async existingIds(jobs: readonly Job[]): Promise<Set<string>> {
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    const ids: string[] = [];
    for (const { batch, start, end } of jobs) {
      for (let i = start; i < end; i++) {
        const ts = batch.ts_ms[i] as number;
        if (ts < minTs) minTs = ts;
        if (ts > maxTs) maxTs = ts;
        ids.push(batch.id[i] as string);
      }
    }
    this.recent ??= await this.loadRecent();
    if (this.recent.covers(minTs)) {
      const recent = this.recent;
      return new Set(ids.filter((id) => recent.has(id)));
    }
    const sql =
      "SELECT DISTINCT id FROM events WHERE ts >= epoch_ms(CAST($1 AS BIGINT)) AND ts <= epoch_ms(CAST($2 AS BIGINT)) AND id IN (SELECT unnest($3))";
    const rows = await this.segments.read(sql, async (full) => {
      const s = await this.conn.prepare(full);
      try {
        s.bindDouble(1, minTs);
        s.bindDouble(2, maxTs);
        s.bindList(3, listValue(ids), LIST(VARCHAR));
        return (await s.runAndReadAll()).getRows();
      } finally {
        // It names the live segments of the moment; one of them may be detached later.
        s.destroySync();
      }
    });
    return new Set(rows.map((r) => r[0] as string));
  }

  /** The ids of the last minutes' events, read from the ledger once at start. */
  private async loadRecent(): Promise<RecentIds> {
    const since = Date.now() - RECENT_WINDOW_MS;
    const rows = await this.segments.read(
      `SELECT id, epoch_ms(ts) AS ms FROM events WHERE ts >= epoch_ms(CAST($1 AS BIGINT)) ORDER BY ts DESC LIMIT ${RECENT_IDS}`,
      async (sql) => (await this.conn.runAndReadAll(sql, [since])).getRows(),
    );
    // If the window held more than fit, the horizon starts just after the oldest id kept.
    const horizon = rows.length < RECENT_IDS ? since : Number(rows.at(-1)?.[1]) + 1;
    const recent = new RecentIds(RECENT_IDS, horizon);
    for (let i = rows.length - 1; i >= 0; i--) {
      const [id, ms] = rows[i] as [string, bigint];
      recent.add(id, Number(ms));
    }
    return recent;
  }

  /** Appends the rows and commits them with one flush: one transaction, synced to the WAL. */
  private async write(rows: Selection): Promise<void> {
    if (rows.length === 0) return;
    const target = this.segments.target();
    // One appender per live segment, kept between commits: creating one costs a few tenths of a ms.
    if (this.appender?.target !== target) {
      this.appender?.appender.closeSync();
      this.appender = null;
      this.appender = { target, appender: await this.conn.createAppender("events", "main", target) };
    }
    const { appender } = this.appender;
    try {
      for (let off = 0; off < rows.length; off += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, rows.length - off);
        const chunk = DuckDBDataChunk.create(TYPES, n);
        fillChunk(chunk, rows, off, n);
        appender.appendDataChunk(chunk);
      }
      // The flush is the commit: all of the batch is durable, or none of it.
      appender.flushSync();
    } catch (e) {
      // Whatever the failed batch left in it goes with it.
      this.appender = null;
      try {
        appender.clear();
        appender.closeSync();
      } catch {}
      throw e;
    }
  }
}

function sizeOf(job: Job): number {
  return job.end - job.start;
}

/** Decides per request which ids are new; an id repeated within one batch counts once. */
function settle(jobs: readonly Job[], existing: Set<string>): { fresh: Selection; results: AppendResult[] } {
  const seen = new Set<string>();
  let total = 0;
  for (const j of jobs) total += sizeOf(j);
  const batchOf = new Uint32Array(total);
  const rowOf = new Uint32Array(total);
  let n = 0;
  const results: AppendResult[] = [];
  jobs.forEach(({ batch, start, end }, b) => {
    const duplicates: string[] = [];
    let inserted = 0;
    for (let i = start; i < end; i++) {
      const id = batch.id[i] as string;
      if (existing.has(id) || seen.has(id)) duplicates.push(id);
      else {
        seen.add(id);
        batchOf[n] = b;
        rowOf[n] = i;
        n++;
        inserted++;
      }
    }
    results.push({ inserted, duplicates });
  });
  return {
    fresh: { batches: jobs.map((j) => j.batch), batch: batchOf.subarray(0, n), row: rowOf.subarray(0, n), length: n },
    results,
  };
}
