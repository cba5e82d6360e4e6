import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { ATTRIBUTION_COLUMNS, CosttrailError, type PreparedEvent, type QuerySpec, TOKEN_BUCKETS } from "@costtrail/core";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { type LedgerBatch, ledgerBatch } from "./ledger-batch.js";
import type {
  AppendResult,
  EventListRequest,
  EventPage,
  ExportFormat,
  LedgerStore,
  QueryRow,
  ReadScope,
  StoredApiKey,
} from "../ledger-store.js";
import { Params, compileQuery, whereSql } from "./dialect.js";
import { EXACT_COST, SCHEMA_SQL } from "./schema.js";
import { localToInstant } from "../time-zone.js";
import { plain, ratio } from "./values.js";
import { Segments } from "./segments.js";
import { GroupCommitWriter } from "./writer.js";

export interface DuckDBStoreOptions {
  /** A file path, or ":memory:" for tests. */
  readonly path: string;
  readonly maxPendingRows?: number;
  readonly threads?: number;
  /** Rows a live segment takes before it is sealed and compacted (tests lower it). */
  readonly segmentRows?: number;
}

const EVENT_LIST_COLUMNS = [
  "id",
  "ts",
  ...ATTRIBUTION_COLUMNS,
  "provider",
  "model",
  "api",
  "operation",
  ...TOKEN_BUCKETS,
  "web_search_calls",
  "units",
  "cost_usd",
  "computed_cost_usd",
  "cost_source",
  "price_status",
  "rate_card_entry",
  "price_note",
  "batch",
  "service_tier",
  "status",
  "error_type",
  "attempt",
  "latency_ms",
  "ttft_ms",
  "streamed",
  "cache_hit",
  "tags",
  "raw_usage",
];

/** Wraps a driver failure once, keeping the statement for the log. */
function storeError(e: unknown, sql: string): CosttrailError {
  if ((e as { code?: string }).code?.startsWith("CT_")) return e as CosttrailError;
  return new CosttrailError("CT_STORE_FAILED", `${(e as Error).message} (in: ${sql.replace(/\s+/g, " ").slice(0, 200)})`, { cause: e });
}

/** The embedded ledger: one DuckDB file, one writer connection with group commit, a connection per read. */
export class DuckDBLedgerStore implements LedgerStore {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writerConn: DuckDBConnection,
    private readonly segments: Segments,
    private readonly writer: GroupCommitWriter,
  ) {}

  static async open(options: DuckDBStoreOptions): Promise<DuckDBLedgerStore> {
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
    const instance = await DuckDBInstance.create(options.path, config);
    const conn = await instance.connect();
    // Every timestamp in and out is UTC; a query's time zone is applied explicitly.
    await conn.run("SET GLOBAL TimeZone = 'UTC'");
    // A detached or closing live segment keeps its WAL instead of being checkpointed: it is
    // either deleted once compacted, or replayed and compacted at the next start.
    await conn.run("PRAGMA disable_checkpoint_on_shutdown");
    for (const sql of SCHEMA_SQL) await conn.run(sql);
    const segments = await Segments.open(instance, file ? options.path : null, options.segmentRows);
    return new DuckDBLedgerStore(instance, conn, segments, new GroupCommitWriter(conn, segments, options.maxPendingRows ?? 200_000));
  }

  append(events: readonly PreparedEvent[], receivedMs = Date.now()): Promise<AppendResult> {
    return this.writer.append(ledgerBatch(events, receivedMs));
  }

  /** Appends rows [start, end) of a batch that carries several requests' events. */
  appendRange(batch: LedgerBatch, start: number, end: number): Promise<AppendResult> {
    return this.writer.append(batch, start, end);
  }

  pendingRows(): number {
    return this.writer.pending();
  }

  /**
   * Runs a read on its own connection. `plainValues` converts to JS numbers and strings in
   * one native pass (fast for big rollups); only safe where no DECIMAL leaves the SQL, since
   * those would become floats, so money is cast to text in every query that uses it.
   */
  private async read(sql: string, params: unknown[], plainValues = false): Promise<Array<Record<string, unknown>>> {
    const conn = await this.instance.connect();
    try {
      const result = await this.segments.read(sql, (full) => conn.runAndReadAll(full, params as never));
      return (plainValues ? result.getRowObjectsJS() : result.getRowObjects()) as Array<Record<string, unknown>>;
    } catch (e) {
      throw storeError(e, sql);
    } finally {
      conn.closeSync();
    }
  }

  async query(spec: QuerySpec, scope: ReadScope): Promise<QueryRow[]> {
    const usesCost = spec.metrics.some((m) => m === "cost_usd" || m === "cost_per_request_usd") || spec.distribution?.metric === "cost_usd";
    const residuals = usesCost && (await this.hasResiduals(spec, scope));
    const run = async (narrowRunCost: boolean) => {
      const { sql, params } = compileQuery(spec, scope, { residuals, narrowRunCost });
      const [first] = await this.read(sql, params, true);
      return JSON.parse(String(first?.j ?? "[]")) as Array<Record<string, string | number | null>>;
    };
    let raw = await run(spec.distribution?.metric === "cost_usd");
    // A run of a million dollars or more does not fit the narrow sum: answer again, 128-bit.
    if (raw.some((r) => Number(r.ovf ?? 0) > 0)) raw = await run(false);
    const buckets = new Map<number, string>();
    return raw.map((r) => {
      const out: QueryRow = {};
      spec.group_by.forEach((d, i) => {
        const v = r[`g${i}`];
        out[d] = v === null || v === undefined ? null : String(v);
      });
      if (spec.grain) {
        const local = Number(r.b);
        let iso = buckets.get(local);
        if (iso === undefined) buckets.set(local, (iso = isoWithOffset(local, spec.time_zone)));
        out.bucket = iso;
      }
      if (spec.distribution) {
        const d = spec.distribution;
        d.stats.forEach((s, i) => {
          const v = r[`s${i}`] ?? null;
          const key = `${d.metric}_${s}`;
          if (s === "mean") out[key] = d.metric === "cost_usd" ? ratio(v) : numberOrNull(ratio(v));
          else out[key] = v;
        });
      }
      spec.metrics.forEach((m, i) => {
        const v = r[`m${i}`] ?? null;
        out[m] = m === "cost_per_request_usd" ? ratio(v) : v;
      });
      return out;
    });
  }

  /** Whether any event in the query's range carries a cost residual (rare; the column is nearly all NULL, so this is cheap). */
  private async hasResiduals(spec: QuerySpec, scope: ReadScope): Promise<boolean> {
    const p = new Params();
    const where = whereSql(scope, spec.from, spec.to, spec.filters, p);
    const rows = await this.read(`SELECT EXISTS (SELECT 1 FROM events WHERE cost_residual IS NOT NULL AND ${where}) AS r`, p.values, true);
    return rows[0]?.r === true;
  }

  async listEvents(req: EventListRequest, scope: ReadScope): Promise<EventPage> {
    const p = new Params();
    let where = whereSql(scope, req.from, req.to, req.filters, p);
    if (req.cursor) {
      const t = p.bind(req.cursor.ts_ms);
      where += ` AND (ts < epoch_ms(CAST(${t} AS BIGINT)) OR (ts = epoch_ms(CAST(${t} AS BIGINT)) AND id < ${p.bind(req.cursor.id)}))`;
    }
    const sql = `SELECT ${EVENT_LIST_COLUMNS.map((c) => (c === "cost_usd" ? `${EXACT_COST} AS cost_usd` : `"${c}"`)).join(", ")}, epoch_ms(ts) AS ts_ms FROM events WHERE ${where}
      ORDER BY ts DESC, id DESC LIMIT ${req.limit + 1}`;
    const rows = await this.read(sql, p.values);
    const page = rows.slice(0, req.limit);
    const events = page.map((r) => {
      const e: Record<string, unknown> = { id: r.id, timestamp: new Date(Number(r.ts_ms)).toISOString() };
      for (const c of EVENT_LIST_COLUMNS.slice(2)) {
        const v = plain(r[c]);
        if (v === null) continue;
        if (c === "units" || c === "raw_usage") e[c] = JSON.parse(String(v));
        else e[c] = v;
      }
      return e;
    });
    const last = page.at(-1);
    const next = rows.length > req.limit && last ? Buffer.from(JSON.stringify([Number(last.ts_ms), last.id])).toString("base64url") : null;
    return { events, next_cursor: next };
  }

  async exportTo(path: string, format: ExportFormat, req: Omit<EventListRequest, "limit" | "cursor">, scope: ReadScope): Promise<number> {
    const p = new Params();
    const where = whereSql(scope, req.from, req.to, req.filters, p);
    // Parquet keeps DECIMAL; text formats carry money as exact decimal strings.
    const text = format !== "parquet";
    const cols = EVENT_LIST_COLUMNS.map((c) => {
      if (c === "ts") return text ? `strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS "timestamp"` : `CAST(ts AS TIMESTAMPTZ) AS "timestamp"`;
      const value = c === "cost_usd" ? EXACT_COST : `"${c}"`;
      if (!text) return `${value} AS "${c}"`;
      if (c === "cost_usd" || c === "computed_cost_usd") return `rtrim(rtrim(CAST(${value} AS VARCHAR), '0'), '.') AS "${c}"`;
      if (c === "tags") return "to_json(tags) AS tags";
      if (c === "units" || c === "raw_usage") return format === "ndjson" ? `CAST("${c}" AS JSON) AS "${c}"` : `"${c}"`;
      return `"${c}"`;
    });
    const options =
      format === "parquet" ? "FORMAT parquet, COMPRESSION zstd" : format === "csv" ? "FORMAT csv, HEADER true" : "FORMAT json";
    const copy = (select: string) => `COPY (${select}) TO '${path.replace(/'/g, "''")}' (${options})`;
    const select = `SELECT ${cols.join(", ")} FROM events WHERE ${where} ORDER BY ts, id`;
    const conn = await this.instance.connect();
    try {
      const r = await this.segments.read(select, (full) => conn.run(copy(full), p.values as never));
      return Number(r.rowsChanged);
    } catch (e) {
      throw storeError(e, copy(select));
    } finally {
      conn.closeSync();
    }
  }

  async count(scope: ReadScope): Promise<number> {
    const p = new Params();
    const where = whereSql(scope, 0, 8.64e15, [], p);
    const rows = await this.read(`SELECT count(*) AS n FROM events WHERE ${where}`, p.values);
    return Number(rows[0]?.n ?? 0);
  }

  async saveApiKey(key: StoredApiKey): Promise<void> {
    const sql =
      "INSERT INTO api_keys VALUES ($1, $2, $3, string_split($4, ','), CASE WHEN $5 = '' THEN NULL ELSE string_split($5, ',') END, epoch_ms(CAST($6 AS BIGINT)))";
    const conn = await this.instance.connect();
    try {
      await conn.run(sql, [
        key.id,
        key.name,
        key.hash,
        key.scopes.join(","),
        key.projects === null ? "" : key.projects.join(","),
        key.created_ms,
      ]);
    } catch (e) {
      throw storeError(e, sql);
    } finally {
      conn.closeSync();
    }
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    const rows = await this.read(
      "SELECT id, name, hash, array_to_string(scopes, ',') AS scopes, array_to_string(projects, ',') AS projects, epoch_ms(created_at) AS created_ms FROM api_keys ORDER BY created_at",
      [],
    );
    return rows.map((r) => ({
      id: String(r.id),
      name: String(r.name),
      hash: String(r.hash),
      scopes: String(r.scopes).split(","),
      projects: r.projects === null ? null : String(r.projects).split(","),
      created_ms: Number(r.created_ms),
    }));
  }

  /** Waits until every sealed live segment has been compacted into the main file. */
  settle(): Promise<void> {
    return this.segments.settle();
  }

  /** Where events are now: the live segment appended to and the sealed ones not yet compacted. */
  layout(): { current: number; sealed: number[] } {
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

function numberOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === "bigint" ? Number(v) : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** A bucket's local wall time (as if UTC) → "2026-11-20T00:00:00+01:00" in its zone. */
function isoWithOffset(localMs: number, timeZone: string): string {
  const local = new Date(localMs).toISOString().slice(0, 19);
  const offsetMin = Math.round((localMs - localToInstant(timeZone, localMs)) / 60_000);
  if (offsetMin === 0) return `${local}Z`;
  const sign = offsetMin > 0 ? "+" : "-";
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}
