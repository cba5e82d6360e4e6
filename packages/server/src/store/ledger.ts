import { rm } from "node:fs/promises";
import { CosttrailError, Decimal, type PreparedEvent, type QuerySpec, TOKEN_BUCKETS, type TokenBucket } from "@costtrail/core";
import { decodeCursor, encodeCursor } from "./cursor.js";
import type { LedgerDriver, PlainRow, PlainValue, RollupRow, Statement } from "./ledger-driver.js";
import type {
  AppendResult,
  EventListRequest,
  EventPage,
  ExportFormat,
  EventPrice,
  LedgerStore,
  ModelUsage,
  PriceVersion,
  RepriceEvent,
  RepriceSelection,
  QueryRow,
  ReadScope,
  RecordKind,
  StoredRecord,
  StoredApiKey,
} from "./ledger-store.js";
import { localToInstant } from "@costtrail/core";

/** Columns whose stored text is JSON, parsed on the way out. */
const JSON_COLUMNS = new Set(["units", "raw_usage"]);

/** A driver failure, with the statement that failed: logged in full, never sent to a client. */
class LedgerStatementError extends Error {
  constructor(
    readonly statement: Statement | null,
    cause: unknown,
  ) {
    super(`${(cause as Error)?.message ?? String(cause)}${statement ? ` (in: ${statement.sql.replace(/\s+/g, " ").slice(0, 300)})` : ""}`, {
      cause,
    });
    this.name = "LedgerStatementError";
  }
}

/** Errors the driver raises on purpose (overload, shutdown, a query over the memory limit) pass through; anything else becomes CT_STORE_FAILED. */
function storeFailure(e: unknown, statement: Statement | null): CosttrailError {
  const code = (e as { code?: unknown }).code;
  if (code === "CT_OVERLOADED" || code === "CT_SHUTTING_DOWN" || code === "CT_MEMORY_LIMIT") return e as CosttrailError;
  return new CosttrailError("CT_STORE_FAILED", undefined, { cause: new LedgerStatementError(statement, e) });
}

/**
 * The ledger above any driver: it shapes rows for the API, encodes page cursors, and maps
 * driver failures to one error. The driver below it only speaks SQL and does I/O.
 */
export class Ledger implements LedgerStore {
  constructor(readonly driver: LedgerDriver) {}

  async append(events: readonly PreparedEvent[], receivedMs = Date.now()): Promise<AppendResult> {
    try {
      return await this.driver.append(events, receivedMs);
    } catch (e) {
      throw storeFailure(e, null);
    }
  }

  async query(spec: QuerySpec, scope: ReadScope): Promise<QueryRow[]> {
    const rows = await this.driver.dialect.rollup(spec, scope, (s) => this.all(s));
    return shapeRollup(rows, spec);
  }

  async queryJson(spec: QuerySpec, scope: ReadScope): Promise<string> {
    const text = await this.driver.dialect.rollupJson(spec, scope, (s) => this.all(s));
    return text ?? JSON.stringify(await this.query(spec, scope));
  }

  async listEvents(req: EventListRequest, cursorText: string | null, scope: ReadScope): Promise<EventPage> {
    const cursor = cursorText === null ? null : decodeCursor(cursorText);
    const rows = await this.all(this.driver.dialect.eventPage(req, cursor, scope));
    const page = rows.slice(0, req.limit);
    const last = page.at(-1);
    return {
      events: page.map(shapeEvent),
      next_cursor: rows.length > req.limit && last ? encodeCursor({ ts_ms: Number(last.ts_ms), id: String(last.id) }) : null,
    };
  }

  async exportTo(path: string, format: ExportFormat, req: Omit<EventListRequest, "limit">, scope: ReadScope): Promise<number> {
    const statement = this.driver.dialect.exportRows(req, format, scope);
    try {
      return await this.driver.copyTo(statement, path, format);
    } catch (e) {
      // A half-written export is worse than none.
      await rm(path, { force: true, recursive: true });
      throw storeFailure(e, statement);
    }
  }

  async count(scope: ReadScope): Promise<number> {
    const [row] = await this.all(this.driver.dialect.count(scope));
    return Number(row?.n ?? 0);
  }

  async tagKeys(req: { from: number; to: number; limit: number }, scope: ReadScope): Promise<Array<{ key: string; events: number }>> {
    const rows = await this.all(this.driver.dialect.tagKeys(req, scope));
    return rows.map((r) => ({ key: String(r.key), events: Number(r.events) }));
  }

  async modelUsage(req: { from: number; to: number }, scope: ReadScope): Promise<ModelUsage[]> {
    const rows = await this.all(this.driver.dialect.modelUsage(req, scope));
    return rows.map((r) => {
      const buckets: Partial<Record<TokenBucket, number>> = {};
      for (const b of TOKEN_BUCKETS) {
        const n = Number(r[`unpriced_${b}`] ?? 0);
        if (n > 0) buckets[b] = n;
      }
      return {
        provider: String(r.provider),
        model: String(r.model),
        requests: Number(r.requests),
        unpriced_requests: Number(r.unpriced_requests),
        first_seen_ms: Number(r.first_ms),
        last_seen_ms: Number(r.last_ms),
        unpriced_buckets: buckets,
      };
    });
  }

  async priceVersions(): Promise<PriceVersion[]> {
    const rows = await this.all(this.driver.dialect.reprice.listPriceVersions());
    const num = (v: PlainValue | undefined) => (v === null || v === undefined ? null : Number(v));
    const text = (v: PlainValue | undefined) => (v === null || v === undefined ? null : String(v));
    return rows.map((r) => ({
      version: Number(r.version),
      created_ms: Number(r.created_ms),
      created_by: String(r.created_by),
      reason: String(r.reason),
      selection: JSON.parse(String(r.selection)) as RepriceSelection,
      rate_card: String(r.rate_card),
      dry_run: r.dry_run === true,
      state: String(r.state) as PriceVersion["state"],
      events_total: Number(r.events_total),
      events_done: Number(r.events_done),
      events_changed: Number(r.events_changed ?? 0),
      done_until_ms: num(r.done_until_ms),
      recorded_cost: text(r.recorded_cost),
      current_cost: text(r.current_cost),
      unpriced_before: num(r.unpriced_before),
      unpriced_after: num(r.unpriced_after),
      finished_ms: num(r.finished_ms),
      error: text(r.error),
    }));
  }

  savePriceVersion(v: PriceVersion): Promise<void> {
    return this.execute(this.driver.dialect.reprice.savePriceVersion(v));
  }

  async repriceCounts(
    sel: RepriceSelection,
    fromMs: number,
    toMs: number,
    unitMs: number,
  ): Promise<Array<{ start_ms: number; events: number }>> {
    const rows = await this.all(this.driver.dialect.reprice.repriceCounts(sel, fromMs, toMs, unitMs));
    return rows.map((r) => ({ start_ms: Number(r.start_ms), events: Number(r.n) }));
  }

  async repriceEvents(sel: RepriceSelection, fromMs: number, toMs: number): Promise<RepriceEvent[]> {
    const rows = await this.all(this.driver.dialect.reprice.repriceEvents(sel, fromMs, toMs));
    return rows.map((r) => {
      const buckets: Partial<Record<TokenBucket, number>> = {};
      for (const b of TOKEN_BUCKETS) if (r[b] !== null && r[b] !== undefined) buckets[b] = Number(r[b]);
      const units: Record<string, number> = r.units === null ? {} : (JSON.parse(String(r.units)) as Record<string, number>);
      if (r.web_search_calls !== null && r.web_search_calls !== undefined) units.web_search_calls = Number(r.web_search_calls);
      return {
        id: String(r.id),
        project: r.project === null ? null : String(r.project),
        ts_ms: Number(r.ts_ms),
        provider: String(r.provider),
        model: String(r.model),
        buckets,
        units,
        batch: r.batch === true,
        service_tier: r.service_tier === null ? null : String(r.service_tier),
        cost_source: r.cost_source === null ? null : String(r.cost_source),
        cost: r.cost === null ? null : String(r.cost),
        computed: r.computed === null ? null : String(r.computed),
        price_status: String(r.price_status),
        rate_card_entry: r.rate_card_entry === null ? null : String(r.rate_card_entry),
        price_note: r.price_note === null ? null : String(r.price_note),
        recorded_cost: r.recorded_cost === null ? null : String(r.recorded_cost),
        recorded_status: String(r.recorded_status),
      };
    });
  }

  async writeEventPrices(version: number, rows: readonly EventPrice[]): Promise<void> {
    if (rows.length > 0) await this.execute(this.driver.dialect.reprice.insertEventPrices(version, rows));
  }

  async checkpointPrices(): Promise<void> {
    try {
      await this.driver.execute(this.driver.dialect.reprice.checkpointPrices());
    } catch (e) {
      // A compaction's or a key's write is under way: the next window checkpoints instead.
      if (!/other write transactions active/.test((e as Error).message)) throw storeFailure(e, null);
    }
  }

  async appendRecords(records: readonly StoredRecord[]): Promise<void> {
    if (records.length > 0) await this.execute(this.driver.dialect.appendRecords(records));
  }

  async listRecords(kind: RecordKind, opts: { sinceMs?: number; limit?: number; history?: string } = {}): Promise<StoredRecord[]> {
    const rows = await this.all(this.driver.dialect.listRecords(kind, opts));
    return rows.map((r) => ({
      kind,
      id: String(r.id),
      at_ms: Number(r.at_ms),
      body: JSON.parse(String(r.body)) as Record<string, unknown>,
    }));
  }

  saveApiKey(key: StoredApiKey): Promise<void> {
    return this.execute(this.driver.dialect.insertApiKey(key));
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    const rows = await this.all(this.driver.dialect.listApiKeys());
    return rows.map(
      (r): StoredApiKey => ({
        id: String(r.id),
        name: String(r.name),
        hash: String(r.hash),
        scopes: JSON.parse(String(r.scopes)) as string[],
        projects: r.projects === null ? null : (JSON.parse(String(r.projects)) as string[]),
        created_ms: Number(r.created_ms),
        revoked_ms: r.revoked_ms === null ? null : Number(r.revoked_ms),
        last_used_ms: r.last_used_ms === null ? null : Number(r.last_used_ms),
      }),
    );
  }

  revokeApiKey(id: string, atMs: number): Promise<void> {
    return this.execute(this.driver.dialect.revokeApiKey(id, atMs));
  }

  async touchApiKeys(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size > 0) await this.execute(this.driver.dialect.touchApiKeys(lastUsed));
  }

  async keyUsage(): Promise<Map<string, number>> {
    const rows = await this.all(this.driver.dialect.keyUsage());
    return new Map(rows.map((r) => [String(r.id), Number(r.last_used_ms)]));
  }

  pendingRows(): number {
    return this.driver.pendingRows();
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  private async all(statement: Statement): Promise<PlainRow[]> {
    try {
      return await this.driver.all(statement);
    } catch (e) {
      throw storeFailure(e, statement);
    }
  }

  private async execute(statement: Statement): Promise<void> {
    try {
      await this.driver.execute(statement);
    } catch (e) {
      throw storeFailure(e, statement);
    }
  }
}

/** Rollup rows keyed by the names the API uses: dimensions, `bucket`, metrics, `<metric>_<stat>`. */
function shapeRollup(rows: readonly RollupRow[], spec: QuerySpec): QueryRow[] {
  const buckets = new Map<number, string>();
  return rows.map((r) => {
    const out: QueryRow = {};
    spec.group_by.forEach((d, i) => {
      out[d] = r.groups[i] ?? null;
    });
    if (spec.grain && r.bucketLocalMs !== null) {
      let iso = buckets.get(r.bucketLocalMs);
      if (iso === undefined) buckets.set(r.bucketLocalMs, (iso = isoWithOffset(r.bucketLocalMs, spec.time_zone)));
      out.bucket = iso;
    }
    if (spec.distribution) {
      const d = spec.distribution;
      d.stats.forEach((s, i) => {
        const v = r.stats[i] ?? null;
        if (s !== "mean") out[`${d.metric}_${s}`] = scalar(v);
        else out[`${d.metric}_${s}`] = d.metric === "cost_usd" ? ratio(v) : numberOrNull(ratio(v));
      });
    }
    spec.metrics.forEach((m, i) => {
      const v = r.metrics[i] ?? null;
      out[m] = m === "cost_per_request_usd" ? ratio(v) : scalar(v);
    });
    return out;
  });
}

/** An event row as the API shows it: `timestamp` in ISO, absent values left out, JSON columns parsed. */
function shapeEvent(row: PlainRow): Record<string, unknown> {
  const e: Record<string, unknown> = { id: row.id, timestamp: new Date(Number(row.ts_ms)).toISOString() };
  for (const [k, v] of Object.entries(row)) {
    if (k === "id" || k === "ts_ms" || v === null) continue;
    e[k] = JSON_COLUMNS.has(k) ? JSON.parse(String(v)) : v;
  }
  return e;
}

function scalar(v: PlainValue): string | number | null {
  if (v === null || typeof v === "string" || typeof v === "number") return v;
  return String(v);
}

function numberOrNull(v: string | null): number | null {
  if (v === null) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "sum/count" from the store, divided exactly and rounded half-even to 12 places. */
function ratio(v: PlainValue): string | null {
  if (typeof v !== "string") return null;
  const [num, den] = v.split("/");
  const count = BigInt(den ?? "0");
  if (count === 0n) return null;
  const sum = Decimal.parse(num ?? "0");
  const scaled = sum.rescale(Math.max(sum.scale, 13));
  return Decimal.of(scaled.coef / count, scaled.scale)
    .round(12)
    .toString();
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
