import { readdir, rm } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import {
  HOURLY_BUILT_KEY,
  HOURLY_DROPPED_PREFIX,
  RUN_HOURS_BUILT_KEY,
  RUN_HOURS_WHOLE_KEY,
  addHourly,
  markWholeRunsSql,
} from "./hourly.js";
import { EVENTS_MIGRATION_SQL, LIVE_EVENTS_SQL, LIVE_EVENTS_TABLE_SQL } from "./schema.js";

/** Rows a live segment takes before it is sealed and compacted into the main file. */
export const SEAL_ROWS = 500_000;
/**
 * A sealed segment is compacted once ingest has paused this long, or at once when this many
 * wait: compaction's CPU then does not compete with acknowledgements while traffic flows, and
 * the events waiting in memory stay bounded.
 */
const COMPACT_WHEN_IDLE_MS = 1_000;
const MAX_SEALED = 2;
/**
 * Sealed segments waiting for compaction past which ingest is refused (503, retry): each holds
 * a segment's worth of rows until compacted, so the backlog bounds the ledger's memory and disk.
 */
export const MAX_BACKLOG = 4;
/**
 * Rows compacted into the main file after which it is detached and attached again. DuckDB
 * keeps about 40 bytes of memory for every row appended to a table, for as long as its database
 * stays attached (measured on 1.5.6: 4.5 M rows held ~170 MiB, all returned by a detach); at
 * 2 M rows that is ~80 MiB, and the attach costs the main file's cache, read again by the next
 * queries.
 */
const MAIN_REATTACH_ROWS = 2_000_000;
/** A failed compaction (a full disk, say) is tried again after this long. */
const RETRY_COMPACTION_MS = 30_000;

interface Segment {
  readonly n: number;
  /** Its catalog name once attached. */
  readonly alias: string;
  /** Its file, or null for an in-memory ledger. */
  readonly path: string | null;
  rows: number;
  /** Once sealed: its rows written from memory into its file, so they no longer hold memory. */
  flushed?: Promise<void>;
  /**
   * An append to it failed. DuckDB may then hold a damaged copy of its rows in memory (a
   * checkpoint of it fails and invalidates the database), while its file and WAL hold exactly
   * the committed rows: it is attached afresh, replaying its WAL, before it is checkpointed.
   */
  suspect?: boolean;
}

/**
 * The ledger's layout on disk: a main database file with the compacted events, and small live
 * segments (their own DuckDB files, attached) that ingest appends to.
 *
 * Why: a checkpoint blocks every commit to its database for as long as it writes (about 1.7 s
 * per million events here), so appending to the main file stalls acknowledgements whenever one
 * runs. Live segments are never checkpointed: once full, a segment is sealed (appends go to a
 * fresh one), its events are copied into the main file sorted by (project, time), and the
 * segment is detached and deleted. Checkpoints then touch only the main file, which ingest
 * never writes; and each compacted unit keeps every project's events together, so zone maps
 * let a one-project query skip the others' rows.
 *
 * The copy is one transaction on the main file that also records `moved:<n>` in `meta`. Every
 * read sees the segment only while that marker is absent, so no event is ever counted twice or
 * missed; after a crash between the copy and the delete, the marker says the segment's file
 * can go.
 *
 * DuckDB's commit is not atomic for a scan that overlaps it: measured on 1.5.6, a read running
 * while the copy committed saw some copied rows in the main file but not yet the marker, and
 * counted those events twice (209,392 of 150,000); text committed meanwhile could be read torn
 * ("10.\0"). So every read and write of the main file holds a shared pass (`guard`), and the
 * compaction's commit, a write, or a re-attach of the main file holds it alone (`exclusive`):
 * no scan overlaps a commit.
 */
export class Segments {
  private current: Segment;
  private readonly sealed: Segment[] = [];
  private readonly readers = new Map<string, number>();
  private readonly released = new Map<string, () => void>();
  private compacting: Promise<void> | null = null;
  private closed = false;
  private failure: Error | null = null;
  private lastCommitMs = 0;
  private sealing: Promise<void> | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private reattaching: Promise<void> | null = null;
  /** Reads and writes under way on the main file; it is attached afresh only when none is. */
  private active = 0;
  private drained: (() => void) | null = null;
  private mainRows = 0;
  private lastUnit = 0;

  private constructor(
    /** Compaction: the copy's transaction, detach, checkpoint. */
    private readonly conn: DuckDBConnection,
    /** Attaching new segments, which must not wait for a compaction's transaction. */
    private readonly attachConn: DuckDBConnection,
    private readonly main: string,
    private readonly mainPath: string | null,
    private readonly sealRows: number,
    current: Segment,
    /** Dimensions left out of the hourly sums (hourly.ts). */
    private readonly hourlyDropped: Set<string>,
    /** A connection without the main file as its default database, which can detach it. */
    private readonly control: DuckDBConnection,
    private readonly mainReattachRows: number,
  ) {
    this.current = current;
  }

  /**
   * Attaches the live segments found beside the main file (a crash or a stop leaves them;
   * their WAL is replayed on attach), drops the ones already copied, and opens a fresh one.
   */
  static async open(
    connections: { connect: () => Promise<DuckDBConnection>; control: () => Promise<DuckDBConnection> },
    mainPath: string | null,
    sealRows = SEAL_ROWS,
    mainReattachRows = MAIN_REATTACH_ROWS,
  ): Promise<Segments> {
    const conn = await connections.connect();
    const main = String((await conn.runAndReadAll("SELECT current_database()")).getRows()[0]?.[0]);
    const moved = new Set(
      (await conn.runAndReadAll(`SELECT key FROM "${main}".main.meta WHERE key LIKE 'moved:%'`))
        .getRows()
        .map((r) => Number(String(r[0]).slice(6))),
    );
    const found = mainPath ? await segmentFiles(mainPath) : [];
    const leftover: Segment[] = [];
    for (const n of found) {
      const path = segmentPath(mainPath as string, n);
      if (moved.has(n)) await removeFiles(path);
      else leftover.push({ n, alias: aliasOf(n), path, rows: 0 });
    }
    // Markers whose files are gone have done their job.
    await conn.run(`DELETE FROM "${main}".main.meta WHERE key LIKE 'moved:%'`);
    const hourlyDropped = await buildHourly(conn, main);
    const next = Math.max(0, ...found, ...moved) + 1;
    const attachConn = await connections.connect();
    const segments = new Segments(
      conn,
      attachConn,
      main,
      mainPath,
      sealRows,
      await attach(attachConn, mainPath, next),
      hourlyDropped,
      await connections.control(),
      mainReattachRows,
    );
    for (const s of leftover) {
      await attach(conn, mainPath, s.n);
      segments.sealed.push(s);
    }
    segments.compactInBackground();
    return segments;
  }

  /** The catalog events are appended to now. */
  target(): string {
    return this.current.alias;
  }

  /** Called by the writer after each commit; seals the current segment once it is full. */
  async committed(rows: number): Promise<void> {
    this.current.rows += rows;
    this.lastCommitMs = Date.now();
    if (this.current.rows >= this.sealRows) await this.seal();
  }

  /** Sealed segments not yet compacted. */
  backlog(): number {
    return this.sealed.length;
  }

  /** Rows in the segment appended to now. */
  currentRows(): number {
    return this.current.rows;
  }

  /**
   * Seals the current segment (appends go to a fresh one) and schedules its compaction. The
   * writer calls it when the segment is full, and when ingest has gone quiet, so that the last
   * events do not wait in memory for traffic that may not come.
   */
  async seal(options: { afterFailedAppend?: boolean } = {}): Promise<void> {
    const suspect = options.afterFailedAppend === true;
    if (this.closed || (this.current.rows === 0 && !suspect)) return;
    if (this.sealing) return this.sealing;
    this.sealing = (async () => {
      const next = await attach(this.attachConn, this.mainPath, this.current.n + 1);
      const sealed = this.current;
      this.sealed.push(sealed);
      this.current = next;
      if (suspect && sealed.path !== null) {
        // No checkpoint of what memory holds: compaction attaches it afresh first.
        sealed.suspect = true;
        sealed.flushed = Promise.resolve();
        this.scheduleCompaction();
        return;
      }
      // Rows appended but never checkpointed live in DuckDB's memory, and DuckDB cannot spill
      // them: a sealed segment takes no more appends, so it is checkpointed at once, and only
      // the current segment's rows stay in memory until compaction.
      sealed.flushed = this.attachConn.run(`CHECKPOINT "${sealed.alias}"`).then(
        () => {},
        (e) => process.emitWarning(`checkpointing sealed segment ${sealed.n} failed: ${(e as Error).message}`, "CosttrailLedger"),
      );
      this.scheduleCompaction();
    })().finally(() => {
      this.sealing = null;
    });
    await this.sealing;
  }

  /** Compacts now if too many segments wait; otherwise once ingest has been idle a while. */
  private scheduleCompaction(): void {
    if (this.sealed.length >= MAX_SEALED) {
      this.compactInBackground();
      return;
    }
    if (this.idleTimer || this.compacting || this.sealed.length === 0 || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const idleFor = Date.now() - this.lastCommitMs;
      if (idleFor >= COMPACT_WHEN_IDLE_MS) this.compactInBackground();
      else this.scheduleCompaction();
    }, COMPACT_WHEN_IDLE_MS);
    this.idleTimer.unref();
  }

  /**
   * Runs a read over every event: `sql` reads the table `events`, which becomes the main
   * file's events plus each live segment's not yet copied. Segments stay attached until
   * the reads that saw them finish.
   */
  async read<T>(sql: string, run: (sql: string) => Promise<T>): Promise<T> {
    return this.guard(() => this.readSegments(sql, run));
  }

  /**
   * Runs `fn` with nothing else using the main file: reads and writes under way finish first,
   * new ones wait until it ends.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.reattaching) await this.reattaching;
    let done = () => {};
    this.reattaching = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      if (this.active > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = null;
      return await fn();
    } finally {
      this.reattaching = null;
      done();
    }
  }

  /**
   * Runs `fn`, which reads the main file, beside other reads, once no commit, write or
   * re-attach holds it alone; until `fn` ends, none starts.
   */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    while (this.reattaching) await this.reattaching;
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.active === 0) this.drained?.();
    }
  }

  private async readSegments<T>(sql: string, run: (sql: string) => Promise<T>): Promise<T> {
    // An empty live segment is left out: even empty, a UNION branch costs a large rollup ~10%.
    // Its count is raised right after each commit, before the acknowledgement is seen.
    const sources = this.current.rows > 0 ? [...this.sealed, this.current] : [...this.sealed];
    for (const s of sources) this.readers.set(s.alias, (this.readers.get(s.alias) ?? 0) + 1);
    try {
      const live = sources.map((s) => this.segmentSql(s)).join(" UNION ALL ") || `SELECT * FROM "${this.main}".main.events WHERE FALSE`;
      return await run(
        `WITH events AS NOT MATERIALIZED (${this.unionSql(sources)}), main_events AS NOT MATERIALIZED (SELECT * FROM "${this.main}".main.events), live_events AS NOT MATERIALIZED (${live}) ${sql}`,
      );
    } finally {
      for (const s of sources) {
        const left = (this.readers.get(s.alias) ?? 1) - 1;
        if (left > 0) this.readers.set(s.alias, left);
        else {
          this.readers.delete(s.alias);
          this.released.get(s.alias)?.();
        }
      }
    }
  }

  private unionSql(sources: readonly Segment[]): string {
    return [`SELECT * FROM "${this.main}".main.events`, ...sources.map((s) => this.segmentSql(s))].join(" UNION ALL ");
  }

  /** A live segment's events, while they are not yet in the main file. */
  private segmentSql(s: Segment): string {
    return `${LIVE_EVENTS_SQL(`"${s.alias}".main.events`)} WHERE NOT EXISTS (SELECT 1 FROM "${this.main}".main.meta WHERE key = 'moved:${s.n}')`;
  }

  /** Compacts the sealed segments one after another, beside ingest. */
  private compactInBackground(): void {
    if (this.compacting || this.sealed.length === 0 || this.closed) return;
    this.compacting = (async () => {
      try {
        this.failure = null;
        while (this.sealed.length > 0 && !this.closed) await this.compact(this.sealed[0] as Segment);
      } catch (e) {
        // The segment stays attached and readable; it is tried again a little later.
        this.failure = e as Error;
        process.emitWarning(`compacting a live segment into the ledger failed: ${(e as Error).message}`, "CosttrailLedger");
        if (!this.closed) setTimeout(() => this.compactInBackground(), RETRY_COMPACTION_MS).unref();
      } finally {
        this.compacting = null;
      }
    })();
  }

  /** Copies one sealed segment into the main file, sorted, then detaches and deletes it. */
  private async compact(s: Segment): Promise<void> {
    if (s.suspect) await this.reattach(s);
    await s.flushed;
    await this.conn.run("BEGIN TRANSACTION");
    try {
      const copied = await this.conn.run(
        `INSERT INTO "${this.main}".main.events BY NAME ${LIVE_EVENTS_SQL(`"${s.alias}".main.events`)} ORDER BY project, ts`,
      );
      this.mainRows += Number(copied.rowsChanged);
      const dropped = await addHourly(
        (sql) => this.conn.run(sql),
        async (sql) => (await this.conn.runAndReadAll(sql)).getRows(),
        { catalog: this.main, dimensions: true, runs: true },
        `(${LIVE_EVENTS_SQL(`"${s.alias}".main.events`)})`,
        this.nextUnit(),
        this.hourlyDropped,
      );
      await this.conn.run(`INSERT INTO "${this.main}".main.meta VALUES ('moved:${s.n}', CAST(now() AS VARCHAR))`);
      await this.exclusive(() => this.conn.run("COMMIT"));
      for (const d of dropped) this.hourlyDropped.add(d);
    } catch (e) {
      await this.conn.run("ROLLBACK").catch(() => {});
      throw e;
    }
    this.sealed.splice(this.sealed.indexOf(s), 1);
    if (this.readers.has(s.alias)) await new Promise<void>((resolve) => this.released.set(s.alias, resolve));
    this.released.delete(s.alias);
    await this.conn.run(`DETACH "${s.alias}"`);
    if (s.path) await removeFiles(s.path);
    await this.exclusive(() => this.conn.run(`DELETE FROM "${this.main}".main.meta WHERE key = 'moved:${s.n}'`));
    try {
      await this.conn.run(`CHECKPOINT "${this.main}"`);
    } catch (e) {
      // A write to a side table (keys, price versions) is under way: the next compaction checkpoints instead.
      if (!/other write transactions active/.test((e as Error).message)) throw e;
    }
    if (this.mainRows >= this.mainReattachRows) await this.reattachMain();
  }

  /** Times the main file was attached afresh (tests). */
  mainAttachments = 0;

  /**
   * Detaches the main file and attaches it again, to give back the memory DuckDB keeps for
   * the rows appended to it (MAIN_REATTACH_ROWS). Reads and writes wait meanwhile; those under
   * way finish first. Connections that use it as their default database go on using it.
   */
  private async reattachMain(): Promise<void> {
    const mainPath = this.mainPath;
    if (mainPath === null) return;
    await this.exclusive(async () => {
      await this.control.run(`DETACH "${this.main}"`);
      await this.control.run(`ATTACH '${mainPath.replace(/'/g, "''")}' AS "${this.main}"`);
      this.mainRows = 0;
      this.mainAttachments++;
    });
  }

  /**
   * Detaches a segment an append failed on and attaches its file again: DuckDB replays its
   * WAL, which holds exactly the committed rows, and drops whatever the failure left in memory.
   * New reads wait meanwhile; reads already running finish first.
   */
  private async reattach(s: Segment): Promise<void> {
    let done = () => {};
    this.reattaching = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      if (this.readers.has(s.alias)) await new Promise<void>((resolve) => this.released.set(s.alias, resolve));
      this.released.delete(s.alias);
      await this.conn.run(`DETACH "${s.alias}"`);
      await attach(this.conn, this.mainPath, s.n);
      s.suspect = false;
    } finally {
      this.reattaching = null;
      done();
    }
  }

  /** A compaction's mark on its hourly rows: its start time, unique even within a millisecond. */
  private nextUnit(): number {
    this.lastUnit = Math.max(Date.now(), this.lastUnit + 1);
    return this.lastUnit;
  }

  /** Waits until every sealed segment is in the main file (bench and tests). */
  async settle(): Promise<void> {
    await this.sealing;
    this.compactInBackground();
    while (this.compacting) await this.compacting;
    if (this.failure) throw this.failure;
  }

  /** Seals nothing more; waits for a running compaction, then checkpoints the main file. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.compacting;
    await Promise.all(this.sealed.map((s) => s.flushed));
    try {
      await this.conn.run(`CHECKPOINT "${this.main}"`);
    } finally {
      this.conn.closeSync();
      this.attachConn.closeSync();
      this.control.closeSync();
    }
  }

  /** The segments read now, for tests. */
  describe(): { current: number; sealed: number[]; mainAttachments: number } {
    return { current: this.current.n, sealed: this.sealed.map((s) => s.n), mainAttachments: this.mainAttachments };
  }
}

/**
 * Builds the hourly sums (hourly.ts) of the main file's events once, for a ledger made before
 * they existed (about a second per million events), and reads which dimensions they leave out.
 */
async function buildHourly(conn: DuckDBConnection, main: string): Promise<Set<string>> {
  const meta = `"${main}".main.meta`;
  const has = async (key: string) =>
    Number((await conn.runAndReadAll(`SELECT count(*) FROM ${meta} WHERE key = '${key}'`)).getRows()[0]?.[0]) > 0;
  const dimensions = !(await has(HOURLY_BUILT_KEY));
  const runs = !(await has(RUN_HOURS_BUILT_KEY));
  // Run rows from a release before `whole` have it false (right, but slow to read): set it once.
  const whole = !(await has(RUN_HOURS_WHOLE_KEY));
  if (dimensions || runs || whole) {
    await conn.run("BEGIN TRANSACTION");
    try {
      if (dimensions) await conn.run(`DELETE FROM "${main}".main.hourly`);
      if (runs) await conn.run(`DELETE FROM "${main}".main.run_hours`);
      if (dimensions || runs)
        await addHourly(
          (sql) => conn.run(sql),
          async (sql) => (await conn.runAndReadAll(sql)).getRows(),
          { catalog: main, dimensions, runs },
          `"${main}".main.events`,
          0,
          new Set(),
        );
      // Rebuilt run rows have it set already.
      if (whole && !runs) await conn.run(markWholeRunsSql(`"${main}".main.run_hours`, null));
      for (const [key, built] of [
        [HOURLY_BUILT_KEY, dimensions],
        [RUN_HOURS_BUILT_KEY, runs],
        [RUN_HOURS_WHOLE_KEY, whole],
      ] as const)
        if (built) await conn.run(`INSERT INTO ${meta} VALUES ('${key}', CAST(now() AS VARCHAR))`);
      await conn.run("COMMIT");
    } catch (e) {
      await conn.run("ROLLBACK").catch(() => {});
      throw e;
    }
  }
  const rows = (await conn.runAndReadAll(`SELECT key FROM ${meta} WHERE key LIKE '${HOURLY_DROPPED_PREFIX}%'`)).getRows();
  return new Set(rows.map((r) => String(r[0]).slice(HOURLY_DROPPED_PREFIX.length)));
}

function aliasOf(n: number): string {
  return `ct_live_${n}`;
}

function segmentPath(mainPath: string, n: number): string {
  return `${mainPath}.live-${n}`;
}

async function segmentFiles(mainPath: string): Promise<number[]> {
  const prefix = `${basename(mainPath)}.live-`;
  const names = await readdir(dirname(mainPath)).catch(() => [] as string[]);
  return names
    .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
    .map((f) => Number(f.slice(prefix.length)))
    .sort((a, b) => a - b);
}

async function removeFiles(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.wal`, { force: true });
}

async function attach(conn: DuckDBConnection, mainPath: string | null, n: number): Promise<Segment> {
  const alias = aliasOf(n);
  const path = mainPath ? segmentPath(mainPath, n) : null;
  await conn.run(`ATTACH '${path === null ? ":memory:" : path.replace(/'/g, "''")}' AS "${alias}"`);
  await conn.run(LIVE_EVENTS_TABLE_SQL(`"${alias}".main.events`));
  for (const sql of EVENTS_MIGRATION_SQL(`"${alias}".main.events`)) await conn.run(sql);
  return { n, alias, path, rows: 0 };
}
