import { ATTRIBUTION_COLUMNS, CosttrailError } from "@costtrail/core";
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
import type { AppendOutcome } from "../ledger-driver.js";
import { type Selection, fillChunk } from "./chunk-writer.js";
import { IdIndex, fingerprint } from "../id-index.js";
import { type PriorEvent, identityOf, judge } from "../idempotency.js";
import { existingEventsSql, latestBeforeSql, recentIdentitiesSql } from "./dialect.js";
import { MAX_BACKLOG, type Segments } from "./segments.js";
import { COST_SCALE, LIVE_EVENT_COLUMNS, MONEY_SCALE } from "./schema.js";

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;
/**
 * Below this many waiting rows, when the last commit carried several requests, the
 * writer waits GATHER_MS for more before committing: a commit costs about the same for one
 * row as for a hundred, in time and in WAL bytes.
 */
const GATHER_ROWS = 64;
const GATHER_MS = 1;
/** Rows written in one transaction at most (well under the appender's own flush threshold). */
const MAX_BATCH_ROWS = 50_000;
/** How DuckDB says it reached its memory limit. */
const MEMORY_FULL = /Out of Memory Error|failed to pin block|could not allocate block|failed to allocate data/i;

/** How long and how many ids the writer remembers to catch a resent id (see id-index.ts). */
export interface IdempotencyWindow {
  readonly windowMs: number;
  readonly maxIds: number;
}

const DEFAULT_IDEMPOTENCY_WINDOW: IdempotencyWindow = { windowMs: 24 * 3_600_000, maxIds: 2_000_000 };

/**
 * When a quiet ledger seals its last live segment, so the events in it are compacted to disk
 * instead of waiting in memory: after `afterMs` without a commit once it holds `minRows`, and
 * after `anyAfterMs` with any rows at all (a trickle of events does not churn compactions).
 */
export interface IdleSeal {
  readonly afterMs: number;
  readonly minRows: number;
  readonly anyAfterMs: number;
}

const DEFAULT_IDLE_SEAL: IdleSeal = { afterMs: 30_000, minRows: 50_000, anyAfterMs: 600_000 };

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

/** Appends go to live segments only. */
const TYPES: DuckDBType[] = LIVE_EVENT_COLUMNS.map(([, t]) => columnType(t));

interface Job {
  /** The job's events are `batch` rows [start, end): appends that crossed threads together share one batch. */
  readonly batch: LedgerBatch;
  readonly start: number;
  readonly end: number;
  resolve(r: AppendOutcome): void;
  reject(e: unknown): void;
}

/**
 * Group commit: requests that arrive while a batch is being written wait and go together
 * into the next one, so durability (one WAL sync per commit) does not cost throughput.
 * A batch is one appender flush, which DuckDB commits as one transaction.
 *
 * Ids already in the ledger are never written twice. Each event's id is looked up in the
 * index of recently received ids (id-index.ts); a hit, and any event old enough that the index
 * may not know it, is then looked up in the ledger, bounded by time so zone maps skip the
 * rest. Same id, timestamp and content: a duplicate (a retry). Same id, anything else
 * different: a conflict, reported and not written.
 */
export class GroupCommitWriter {
  private queue: Job[] = [];
  private queued = 0;
  /** Requests in the last batch: more than one means several clients are sending at once. */
  private lastBatchJobs = 0;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private index: IdIndex | null = null;
  private appender: { target: string; appender: DuckDBAppender } | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** When the armed idle timer fires (epoch ms). */
  private idleDue = 0;
  private sealingIdle: Promise<void> | null = null;
  private lastCommitMs = 0;

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly segments: Segments,
    private readonly maxPendingRows: number,
    private readonly idempotency: IdempotencyWindow = DEFAULT_IDEMPOTENCY_WINDOW,
    private readonly idleSeal: IdleSeal = DEFAULT_IDLE_SEAL,
  ) {}

  pending(): number {
    return this.queued;
  }

  append(batch: LedgerBatch, start = 0, end = batch.length): Promise<AppendOutcome> {
    const size = end - start;
    if (this.closed) return Promise.reject(new CosttrailError("CT_SHUTTING_DOWN"));
    if (size === 0) return Promise.resolve({ inserted: 0, duplicates: [], conflicts: [] });
    if (this.queued > 0 && this.queued + size > this.maxPendingRows) {
      return Promise.reject(new CosttrailError("CT_OVERLOADED", `${this.queued} events are waiting to be written; retry shortly`));
    }
    if (this.segments.backlog() >= MAX_BACKLOG) {
      return Promise.reject(
        new CosttrailError("CT_OVERLOADED", `${this.segments.backlog()} full live segments are waiting to be compacted; retry shortly`),
      );
    }
    return new Promise<AppendOutcome>((resolve, reject) => {
      this.queue.push({ batch, start, end, resolve, reject });
      this.queued += size;
      if (!this.running) void this.drain();
    });
  }

  /** Stops taking rows and waits for everything queued to be committed. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.sealingIdle;
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
        // Only a few rows waiting (single events from many clients): wait a moment more for
        // the others, whose acknowledgements just went out, so that one commit carries them all.
        if (this.queued < GATHER_ROWS && this.lastBatchJobs > 1) await new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS));
        const jobs: Job[] = [];
        let n = 0;
        while (this.queue.length > 0 && (n === 0 || n + sizeOf(this.queue[0] as Job) <= MAX_BATCH_ROWS)) {
          const job = this.queue.shift() as Job;
          jobs.push(job);
          n += sizeOf(job);
        }
        this.lastBatchJobs = jobs.length;
        try {
          const identities = identify(jobs);
          const existing = await this.existingEvents(jobs, identities);
          const { fresh, freshFps, results } = settle(jobs, existing, identities);
          await this.write(fresh);
          // Only after the commit: an id is "present" once it is durable.
          const index = this.index as IdIndex;
          for (let k = 0; k < fresh.length; k++) {
            const b = fresh.batches[fresh.batch[k] as number] as LedgerBatch;
            const r = fresh.row[k] as number;
            index.add(freshFps[k] as number, b.ts_ms[r] as number, b.received_ms[r] as number);
          }
          for (const [i, j] of jobs.entries()) j.resolve(results[i] as AppendOutcome);
          await this.segments.committed(fresh.length);
          // A sealed segment is detached once compacted: let go of it now.
          if (this.appender && this.appender.target !== this.segments.target()) {
            this.appender.appender.closeSync();
            this.appender = null;
          }
        } catch (e) {
          // DuckDB's memory full: shed this batch as load (the client retries). Either way the
          // segment is sealed, and attached afresh before anything else touches it (segments.ts).
          const full = MEMORY_FULL.test((e as Error)?.message ?? "");
          const err = full
            ? new CosttrailError("CT_OVERLOADED", "the ledger's memory is full; retry shortly", { cause: e })
            : new CosttrailError("CT_STORE_FAILED", `appending ${n} events failed: ${(e as Error).message}`, { cause: e });
          for (const j of jobs) j.reject(err);
          await this.sealAfterFailure();
        } finally {
          this.queued -= n;
        }
      }
    } finally {
      this.running = false;
      this.lastCommitMs = Date.now();
      this.armIdleSeal();
      this.markIdle();
    }
  }

  private async sealAfterFailure(): Promise<void> {
    this.appender?.appender.closeSync();
    this.appender = null;
    await this.segments
      .seal({ afterFailedAppend: true })
      .catch((e) => process.emitWarning(`sealing a live segment after a failed append failed: ${(e as Error).message}`, "CosttrailLedger"));
  }

  /** Arms the check that seals the last live segment once ingest has been quiet long enough. */
  private armIdleSeal(): void {
    if (this.closed || this.segments.currentRows() === 0) return;
    const due = this.lastCommitMs + this.quietWait();
    // A timer armed while the segment was small waits the long delay: once it holds enough
    // rows for the short one, the earlier deadline replaces it.
    if (this.idleTimer) {
      if (this.idleDue <= due) return;
      clearTimeout(this.idleTimer);
    }
    this.idleDue = due;
    this.idleTimer = setTimeout(() => void this.sealIfQuiet(), Math.max(0, due - Date.now()));
    this.idleTimer.unref();
  }

  /** How long ingest must be quiet before the current segment is sealed, for its size now. */
  private quietWait(): number {
    return this.segments.currentRows() >= this.idleSeal.minRows ? this.idleSeal.afterMs : this.idleSeal.anyAfterMs;
  }

  private async sealIfQuiet(): Promise<void> {
    this.idleTimer = null;
    if (this.closed) return;
    if (this.running || this.queue.length > 0 || Date.now() - this.lastCommitMs < this.quietWait()) {
      this.armIdleSeal();
      return;
    }
    // Sealed under the writer's own flag, as a full segment is: no batch may commit to the
    // segment once its compaction can start, or it would be deleted with it.
    this.running = true;
    this.sealingIdle = (async () => {
      this.appender?.appender.closeSync();
      this.appender = null;
      await this.segments.seal();
    })()
      .catch((e) => process.emitWarning(`sealing the quiet live segment failed: ${(e as Error).message}`, "CosttrailLedger"))
      .finally(() => {
        this.running = false;
        this.sealingIdle = null;
        if (this.queue.length > 0) void this.drain();
      });
    await this.sealingIdle;
  }

  /**
   * The events already in the ledger under the identities of these jobs: those the index has
   * seen, and any old enough that the index may not know them. Looked up by id within the time
   * range those events can have.
   */
  private async existingEvents(jobs: readonly Job[], identities: readonly JobIdentities[]): Promise<Map<string, PriorEvent>> {
    this.index ??= await this.loadIndex();
    const index = this.index;
    const ids: string[] = [];
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    const widen = (ts: number) => {
      if (ts < minTs) minTs = ts;
      if (ts > maxTs) maxTs = ts;
    };
    jobs.forEach(({ batch, start, end }, j) => {
      const jobFps = (identities[j] as JobIdentities).fps;
      for (let i = start; i < end; i++) {
        const ts = batch.ts_ms[i] as number;
        const seenAt = index.get(jobFps[i - start] as number);
        if (seenAt === undefined && !index.mayMiss(ts)) continue;
        ids.push(batch.id[i] as string);
        widen(ts);
        if (seenAt !== undefined) widen(seenAt);
      }
    });
    if (ids.length === 0) return new Map();
    const rows = await this.segments.read(existingEventsSql, async (full) => {
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
    const out = new Map<string, PriorEvent>();
    for (const [id, project, ms, hash] of rows) {
      out.set(identityOf(project as string | null, String(id)), { tsMs: Number(ms), contentHash: hash === null ? null : Number(hash) });
    }
    return out;
  }

  /**
   * The identities received in the window, read from the ledger once at start, newest first up
   * to the index's size; and the latest timestamp among events received before them, after
   * which the index knows every event.
   */
  private async loadIndex(): Promise<IdIndex> {
    const { windowMs, maxIds } = this.idempotency;
    const since = Date.now() - windowMs;
    const index = new IdIndex(windowMs, maxIds, Number.NEGATIVE_INFINITY);
    // Streamed oldest first, a chunk at a time: two million ids read as rows at once held
    // about 0.85 GiB at start.
    let kept = 0;
    let oldestReceived = since;
    await this.segments.read(recentIdentitiesSql, async (sql) => {
      const result = await this.conn.stream(sql, [since, maxIds]);
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const row of chunk.getRows()) {
          const [id, project, ms, received] = row as [string, string | null, bigint, bigint];
          if (kept++ === 0) oldestReceived = Number(received);
          index.add(fingerprint(identityOf(project, id)), Number(ms), Number(received));
        }
      }
    });
    // If the window held more than fit, the index covers only what came after the oldest id kept.
    const cutoff = kept < maxIds ? since : oldestReceived;
    const [[before]] = (await this.segments.read(latestBeforeSql, async (sql) =>
      (await this.conn.runAndReadAll(sql, [cutoff])).getRows(),
    )) as [[bigint | null]];
    if (before !== null) index.coveredAfterMs = Math.max(index.coveredAfterMs, Number(before));
    return index;
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

const PROJECT = ATTRIBUTION_COLUMNS.indexOf("project");

function identityAt(batch: LedgerBatch, i: number): string {
  return identityOf((batch.attribution[PROJECT] as Array<string | null>)[i], batch.id[i] as string);
}

/** Each event's identity, and its fingerprint for the id index, by position in its job. */
interface JobIdentities {
  readonly keys: string[];
  readonly fps: Float64Array;
}

/** The identities of each job's events, built once per batch. */
function identify(jobs: readonly Job[]): JobIdentities[] {
  return jobs.map(({ batch, start, end }) => {
    const keys = new Array<string>(end - start);
    const fps = new Float64Array(end - start);
    for (let i = start; i < end; i++) {
      const key = identityAt(batch, i);
      keys[i - start] = key;
      fps[i - start] = fingerprint(key);
    }
    return { keys, fps };
  });
}

/**
 * Decides per request which events are new, duplicates or conflicts (idempotency.ts). Within
 * one batch the first event with an identity wins; a later one is judged against it as
 * against the ledger.
 */
function settle(
  jobs: readonly Job[],
  existing: ReadonlyMap<string, PriorEvent>,
  identities: readonly JobIdentities[],
): { fresh: Selection; freshFps: Float64Array; results: AppendOutcome[] } {
  const seen = new Map<string, PriorEvent>();
  let total = 0;
  for (const j of jobs) total += sizeOf(j);
  const batchOf = new Uint32Array(total);
  const rowOf = new Uint32Array(total);
  const fpOf = new Float64Array(total);
  let n = 0;
  const results: AppendOutcome[] = [];
  jobs.forEach(({ batch, start, end }, b) => {
    const { keys, fps } = identities[b] as JobIdentities;
    const duplicates: number[] = [];
    const conflicts: Array<{ index: number; existing_timestamp: string }> = [];
    let inserted = 0;
    for (let i = start; i < end; i++) {
      const identity = keys[i - start] as string;
      const ts = batch.ts_ms[i] as number;
      const hash = batch.content_hash[i] as number;
      const prior = existing.get(identity) ?? seen.get(identity);
      if (prior) {
        if (judge(prior, ts, hash) === "duplicate") duplicates.push(i - start);
        else conflicts.push({ index: i - start, existing_timestamp: new Date(prior.tsMs).toISOString() });
        continue;
      }
      seen.set(identity, { tsMs: ts, contentHash: hash });
      batchOf[n] = b;
      rowOf[n] = i;
      fpOf[n] = fps[i - start] as number;
      n++;
      inserted++;
    }
    results.push({ inserted, duplicates, conflicts });
  });
  return {
    fresh: { batches: jobs.map((j) => j.batch), batch: batchOf.subarray(0, n), row: rowOf.subarray(0, n), length: n },
    freshFps: fpOf.subarray(0, n),
    results,
  };
}
