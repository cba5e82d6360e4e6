import { ATTRIBUTION_COLUMNS, Decimal, TOKEN_BUCKETS } from "@costtrail/core";
import duckdb from "@duckdb/node-bindings";
import type { DuckDBDataChunk } from "@duckdb/node-api";
import type { LedgerBatch } from "./ledger-batch.js";
import { COST_LIMIT, COST_SCALE, LIVE_EVENT_COLUMNS, MONEY_SCALE } from "./schema.js";

/**
 * Fills a DuckDB data chunk column by column straight into the vectors' memory: numbers as
 * typed arrays, validity as one bitmask per column, strings one native call each. Going
 * through generic value objects costs about three times as much per event (a BigInt per
 * validity bit, a wrapper object per timestamp), and chunk building is the writer's
 * largest cost.
 */

/**
 * The rows to write, drawn from several batches: row k is `batches[batch[k]]` at `row[k]`.
 * Duplicates are left out by not selecting them.
 */
export interface Selection {
  readonly batches: readonly LedgerBatch[];
  readonly batch: Uint32Array;
  readonly row: Uint32Array;
  readonly length: number;
}

type Kind = "string" | "int64" | "timestamp" | "int32" | "double" | "bool" | "flag" | "decimal" | "cost" | "json";

/** A column's values in a batch: strings or null, or numbers with NaN (flags: -1) for null. */
type Source = (b: LedgerBatch) => ArrayLike<string | null> | ArrayLike<number>;

interface Column {
  readonly kind: Kind;
  readonly source: Source | null;
}

const SOURCES: Record<string, Source> = {
  id: (b) => b.id,
  ts: (b) => b.ts_ms,
  received_at: (b) => b.received_ms,
  provider: (b) => b.provider,
  model: (b) => b.model,
  api: (b) => b.api,
  operation: (b) => b.operation,
  web_search_calls: (b) => b.web_search_calls,
  units: (b) => b.units_json,
  computed_cost_usd: (b) => b.computed_cost_usd,
  cost_source: (b) => b.cost_source,
  price_status: (b) => b.price_status,
  rate_card_entry: (b) => b.rate_card_entry,
  price_note: (b) => b.price_note,
  batch: (b) => b.batch,
  service_tier: (b) => b.service_tier,
  status: (b) => b.status,
  error_type: (b) => b.error_type,
  attempt: (b) => b.attempt,
  latency_ms: (b) => b.latency_ms,
  ttft_ms: (b) => b.ttft_ms,
  streamed: (b) => b.streamed,
  cache_hit: (b) => b.cache_hit,
  raw_usage: (b) => b.raw_usage_json,
  content_hash: (b) => b.content_hash,
};
ATTRIBUTION_COLUMNS.forEach((c, i) => {
  SOURCES[c] = (b) => b.attribution[i] as Array<string | null>;
});
TOKEN_BUCKETS.forEach((t, i) => {
  SOURCES[t] = (b) => b.buckets[i] as Float64Array;
});

function kindOf(name: string, sqlType: string): Kind {
  if (name === "cost_usd") return "cost";
  if (name === "cost_residual") return "decimal";
  if (name === "streamed" || name === "cache_hit") return "flag";
  if (name === "tags") return "json";
  if (sqlType.startsWith("VARCHAR")) return "string";
  if (sqlType.startsWith("BIGINT")) return "int64";
  if (sqlType.startsWith("TIMESTAMP")) return "timestamp";
  if (sqlType.startsWith("INTEGER")) return "int32";
  if (sqlType.startsWith("DOUBLE")) return "double";
  if (sqlType.startsWith("BOOLEAN")) return "bool";
  if (sqlType.startsWith("DECIMAL")) return "decimal";
  throw new Error(`no chunk writer for ${sqlType}`);
}

/** Columns written from other data: the two cost parts (split from `cost_usd`) and the tag map. */
const DERIVED = new Set(["cost_usd", "cost_residual", "tags"]);

const COLUMNS: readonly Column[] = LIVE_EVENT_COLUMNS.map(([name, type]) => {
  const source = SOURCES[name] ?? null;
  if (!source && !DERIVED.has(name)) throw new Error(`no source for column ${name}`);
  return { kind: kindOf(name, type), source };
});
const RESIDUAL_INDEX = LIVE_EVENT_COLUMNS.findIndex(([name]) => name === "cost_residual");

/** Splits an exact cost into the 64-bit part (scale 12, under a million dollars) and the exact rest. */
const PLAIN_COST = /^(\d{1,6})(?:\.(\d{1,12}))?$/;

export function splitCost(text: string): { main: bigint; residual: bigint | null } {
  // Nearly every cost is under a million dollars with at most 12 decimals: one BigInt, no division.
  const m = PLAIN_COST.exec(text);
  if (m) return { main: BigInt((m[1] as string) + (m[2] ?? "").padEnd(COST_SCALE, "0")), residual: null };
  const d = Decimal.parse(text);
  const exact = d.rescale(Math.max(d.scale, MONEY_SCALE)).coef;
  const unit = 10n ** BigInt(MONEY_SCALE - COST_SCALE);
  let main = exact / unit;
  if (main >= COST_LIMIT || main <= -COST_LIMIT) main = 0n;
  const rest = exact - main * unit;
  return { main, residual: rest === 0n ? null : rest };
}

const TWO_32 = 4294967296;
const MASK_64 = (1n << 64n) - 1n;

/** Column k of the selected rows [offset, offset + n), one array per batch looked up once. */
function columnValues(sel: Selection, source: Source, offset: number, n: number): Array<string | number | null> {
  const arrays = sel.batches.map(source);
  const out = new Array<string | number | null>(n);
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    out[i] = (arrays[sel.batch[k] as number] as ArrayLike<string | number | null>)[sel.row[k] as number] as string | number | null;
  }
  return out;
}

/** Tags as JSON text (see LIVE_EVENT_COLUMNS): an object of the row's pairs, or NULL for none. */
function writeTags(vector: duckdb.Vector, sel: Selection, offset: number, n: number, maskBytes: number): void {
  const mask = new Uint8Array(maskBytes).fill(0xff);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const b = sel.batches[sel.batch[offset + i] as number] as LedgerBatch;
    const r = sel.row[offset + i] as number;
    const count = b.tag_count[r] as number;
    if (count < 0) {
      mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
      nulls++;
      continue;
    }
    const start = b.tag_start[r] as number;
    const tags: Record<string, string> = {};
    for (let t = 0; t < count; t++) tags[b.tag_keys[start + t] as string] = b.tag_values[start + t] as string;
    duckdb.vector_assign_string_element(vector, i, JSON.stringify(tags));
  }
  if (nulls > 0) {
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer, 0, maskBytes);
  }
}

/** Writes the selected rows [offset, offset + n) into the chunk, which must have been created with n rows. */
export function fillChunk(chunk: DuckDBDataChunk, sel: Selection, offset: number, n: number): void {
  const maskBytes = Math.ceil(n / 64) * 8;
  const costs: Array<{ main: bigint; residual: bigint | null } | null> = new Array(n);
  const costTexts = columnValues(sel, (b) => b.cost_usd, offset, n);
  for (let i = 0; i < n; i++) {
    const text = costTexts[i] as string | null;
    costs[i] = text === null ? null : splitCost(text);
  }
  for (let c = 0; c < COLUMNS.length; c++) {
    const col = COLUMNS[c] as Column;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
    if (col.kind === "json") {
      writeTags(vector, sel, offset, n, maskBytes);
      continue;
    }
    const mask = new Uint8Array(maskBytes).fill(0xff);
    let nulls = 0;
    const isNull = (i: number) => {
      mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
      nulls++;
    };
    if (col.kind === "cost") {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const cost = costs[i];
        if (!cost) isNull(i);
        else data[i] = cost.main;
      }
      duckdb.copy_data_to_vector(vector, 0, data.buffer, 0, data.byteLength);
    } else if (col.kind === "decimal") {
      // DECIMAL(38, 18) is a 128-bit integer: low 64 bits unsigned, high 64 bits signed.
      const texts = c === RESIDUAL_INDEX ? null : columnValues(sel, col.source as Source, offset, n);
      const lo = new BigUint64Array(n * 2);
      const hi = new BigInt64Array(lo.buffer);
      for (let i = 0; i < n; i++) {
        const v = texts === null ? (costs[i]?.residual ?? null) : (texts[i] as string | null);
        if (v === null) isNull(i);
        else {
          const coef = typeof v === "bigint" ? v : Decimal.parse(v).rescale(MONEY_SCALE).coef;
          lo[2 * i] = coef & MASK_64;
          hi[2 * i + 1] = coef >> 64n;
        }
      }
      duckdb.copy_data_to_vector(vector, 0, lo.buffer, 0, lo.byteLength);
    } else {
      const values = columnValues(sel, col.source as Source, offset, n);
      if (col.kind === "string") {
        for (let i = 0; i < n; i++) {
          const v = values[i] as string | null;
          if (v === null || v === undefined) isNull(i);
          else duckdb.vector_assign_string_element(vector, i, v);
        }
      } else if (col.kind === "int64" || col.kind === "timestamp") {
        // Counts and epoch microseconds stay below 2^53: split into two 32-bit halves, no BigInt.
        const words = new Uint32Array(n * 2);
        const scale = col.kind === "timestamp" ? 1000 : 1;
        for (let i = 0; i < n; i++) {
          const v = values[i] as number;
          if (Number.isNaN(v)) isNull(i);
          else {
            const x = v * scale;
            words[2 * i] = x % TWO_32;
            words[2 * i + 1] = Math.floor(x / TWO_32);
          }
        }
        duckdb.copy_data_to_vector(vector, 0, words.buffer, 0, words.byteLength);
      } else {
        const data = col.kind === "int32" ? new Int32Array(n) : col.kind === "double" ? new Float64Array(n) : new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          const v = values[i] as number;
          if (Number.isNaN(v) || (col.kind === "flag" && v < 0)) isNull(i);
          else data[i] = v;
        }
        duckdb.copy_data_to_vector(vector, 0, data.buffer, 0, data.byteLength);
      }
    }
    if (nulls > 0) {
      duckdb.vector_ensure_validity_writable(vector);
      duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer, 0, maskBytes);
    }
  }
}
