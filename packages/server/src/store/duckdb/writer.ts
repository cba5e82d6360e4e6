import { ATTRIBUTION_COLUMNS, CosttrailError, TOKEN_BUCKETS } from "@costtrail/core";
import { BOOLEAN, DOUBLE, type DuckDBConnection, DuckDBDataChunk, type DuckDBType, VARCHAR } from "@duckdb/node-api";
import type { LedgerRow } from "../ledger-row.js";
import type { AppendResult } from "../ledger-store.js";
import { EVENT_COLUMNS, castFromStaging, stagingType } from "./schema.js";

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;
/** Rows written in one transaction at most; more waits for the next round. */
const MAX_BATCH_ROWS = 50_000;

const STAGING_TYPES: DuckDBType[] = EVENT_COLUMNS.map(([, t]) => {
  const s = stagingType(t);
  return s === "DOUBLE" ? DOUBLE : s === "BOOLEAN" ? BOOLEAN : VARCHAR;
});

type Cell = string | number | boolean | null;

/** One row's values in staging column order. */
function cells(r: LedgerRow): Cell[] {
  const out: Cell[] = [r.id, r.ts_ms, r.received_ms];
  for (const c of ATTRIBUTION_COLUMNS) out.push(r.attribution[c] ?? null);
  out.push(r.provider, r.model, r.api, r.operation);
  for (const b of TOKEN_BUCKETS) out.push(r.buckets[b] ?? null);
  out.push(
    r.web_search_calls || null,
    r.units_json,
    r.cost_usd,
    r.computed_cost_usd,
    r.cost_source,
    r.price_status,
    r.rate_card_entry,
    r.price_note,
    r.batch,
    r.service_tier,
    r.status,
    r.error_type,
    r.attempt,
    r.latency_ms,
    r.ttft_ms,
    r.streamed,
    r.cache_hit,
    r.tags === null ? null : JSON.stringify(r.tags),
    r.raw_usage_json,
  );
  return out;
}

interface Job {
  readonly rows: readonly LedgerRow[];
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit: requests that arrive while a transaction is being written wait and go
 * together into the next one, so durability (one WAL sync per commit) does not cost
 * throughput. Rows go through a temp staging table of plain types, cheap to append from
 * JS; one INSERT … SELECT casts them, skips ids already in the ledger, and commits.
 */
export class GroupCommitWriter {
  private queue: Job[] = [];
  private queued = 0;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private readonly insertSql: string;

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly maxPendingRows: number,
  ) {
    const names = EVENT_COLUMNS.map(([n]) => `"${n}"`).join(", ");
    const exprs = EVENT_COLUMNS.map(([n, t]) => castFromStaging(n, t)).join(", ");
    // Retries carry the same timestamps, so an earlier copy lies in the batch's time range:
    // the range bound lets zone maps skip the rest of the ledger.
    this.insertSql = `INSERT INTO events (${names}) SELECT ${exprs} FROM staging s
      WHERE s.id NOT IN (SELECT id FROM batch_dups)
      QUALIFY row_number() OVER (PARTITION BY s.id ORDER BY s.rowid) = 1`;
  }

  pending(): number {
    return this.queued;
  }

  append(rows: readonly LedgerRow[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new CosttrailError("CT_SHUTTING_DOWN"));
    if (rows.length === 0) return Promise.resolve({ inserted: 0, duplicates: [] });
    if (this.queued > 0 && this.queued + rows.length > this.maxPendingRows) {
      return Promise.reject(new CosttrailError("CT_OVERLOADED", `${this.queued} events are waiting to be written; retry shortly`));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queued += rows.length;
      if (!this.running) void this.drain();
    });
  }

  /** Stops taking rows and waits for everything queued to be committed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
  }

  private async drain(): Promise<void> {
    this.running = true;
    this.idle = new Promise((r) => {
      this.markIdle = r;
    });
    try {
      while (this.queue.length > 0) {
        const jobs: Job[] = [];
        let n = 0;
        while (this.queue.length > 0 && (n === 0 || n + (this.queue[0] as Job).rows.length <= MAX_BATCH_ROWS)) {
          const job = this.queue.shift() as Job;
          jobs.push(job);
          n += job.rows.length;
        }
        try {
          const dups = await this.write(jobs);
          settle(jobs, dups);
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

  private async write(jobs: readonly Job[]): Promise<Set<string>> {
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    const appender = await this.conn.createAppender("staging");
    try {
      let chunkRows: Cell[][] = [];
      const flush = () => {
        if (chunkRows.length === 0) return;
        const columns: Cell[][] = STAGING_TYPES.map(() => new Array<Cell>(chunkRows.length));
        for (let r = 0; r < chunkRows.length; r++) {
          const row = chunkRows[r] as Cell[];
          for (let c = 0; c < row.length; c++) (columns[c] as Cell[])[r] = row[c] as Cell;
        }
        const chunk = DuckDBDataChunk.create(STAGING_TYPES, chunkRows.length);
        chunk.setColumns(columns);
        appender.appendDataChunk(chunk);
        chunkRows = [];
      };
      for (const job of jobs) {
        for (const row of job.rows) {
          if (row.ts_ms < minTs) minTs = row.ts_ms;
          if (row.ts_ms > maxTs) maxTs = row.ts_ms;
          chunkRows.push(cells(row));
          if (chunkRows.length === CHUNK_ROWS) flush();
        }
      }
      flush();
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    try {
      await this.conn.run("BEGIN TRANSACTION");
      await this.conn.run(
        `CREATE OR REPLACE TEMP TABLE batch_dups AS SELECT DISTINCT e.id FROM events e
         WHERE e.ts >= CAST(epoch_ms(CAST($1 AS BIGINT)) AS TIMESTAMPTZ) AND e.ts <= CAST(epoch_ms(CAST($2 AS BIGINT)) AS TIMESTAMPTZ)
           AND e.id IN (SELECT id FROM staging)`,
        [minTs, maxTs],
      );
      await this.conn.run(this.insertSql);
      await this.conn.run("COMMIT");
    } catch (e) {
      await this.conn.run("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      await this.conn.run("DELETE FROM staging");
    }
    const dupRows = (await this.conn.runAndReadAll("SELECT id FROM batch_dups")).getRows();
    return new Set(dupRows.map((r) => r[0] as string));
  }
}

/** Tells each request which of its ids were new; an id repeated within one batch counts once. */
function settle(jobs: readonly Job[], existing: Set<string>): void {
  const seen = new Set<string>();
  for (const job of jobs) {
    let inserted = 0;
    const duplicates: string[] = [];
    for (const r of job.rows) {
      if (existing.has(r.id) || seen.has(r.id)) duplicates.push(r.id);
      else {
        seen.add(r.id);
        inserted++;
      }
    }
    job.resolve({ inserted, duplicates });
  }
}
