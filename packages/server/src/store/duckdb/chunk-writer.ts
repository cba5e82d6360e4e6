import { ATTRIBUTION_COLUMNS, Decimal, TOKEN_BUCKETS } from "@costtrail/core";
import duckdb from "@duckdb/node-bindings";
import type { DuckDBDataChunk } from "@duckdb/node-api";
import type { LedgerRow } from "../ledger-row.js";
import { COST_LIMIT, COST_SCALE, EVENT_COLUMNS, MONEY_SCALE } from "./schema.js";

/**
 * Fills a DuckDB data chunk column by column straight into the vectors' memory: numbers as
 * typed arrays, validity as one bitmask per column, strings one native call each. Going
 * through generic value objects costs about three times as much per event (a BigInt per
 * validity bit, a wrapper object per timestamp), and chunk building is the writer's
 * largest cost.
 */
type Kind = "varchar" | "int64" | "timestamp" | "int32" | "double" | "bool" | "decimal" | "cost" | "map";

interface Column {
  readonly kind: Kind;
  readonly get: (r: LedgerRow) => unknown;
}

const BY_NAME: Record<string, (r: LedgerRow) => unknown> = {
  id: (r) => r.id,
  ts: (r) => r.ts_ms,
  received_at: (r) => r.received_ms,
  provider: (r) => r.provider,
  model: (r) => r.model,
  api: (r) => r.api,
  operation: (r) => r.operation,
  web_search_calls: (r) => r.web_search_calls || null,
  units: (r) => r.units_json,
  cost_usd: (r) => r.cost_usd,
  cost_residual: (r) => r.cost_usd,
  computed_cost_usd: (r) => r.computed_cost_usd,
  cost_source: (r) => r.cost_source,
  price_status: (r) => r.price_status,
  rate_card_entry: (r) => r.rate_card_entry,
  price_note: (r) => r.price_note,
  batch: (r) => r.batch,
  service_tier: (r) => r.service_tier,
  status: (r) => r.status,
  error_type: (r) => r.error_type,
  attempt: (r) => r.attempt,
  latency_ms: (r) => r.latency_ms,
  ttft_ms: (r) => r.ttft_ms,
  streamed: (r) => r.streamed,
  cache_hit: (r) => r.cache_hit,
  tags: (r) => r.tags,
  raw_usage: (r) => r.raw_usage_json,
};
for (const c of ATTRIBUTION_COLUMNS) BY_NAME[c] = (r) => r.attribution[c] ?? null;
for (const b of TOKEN_BUCKETS) BY_NAME[b] = (r) => r.buckets[b] ?? null;

function kindOf(sqlType: string): Kind {
  if (sqlType.startsWith("VARCHAR")) return "varchar";
  if (sqlType.startsWith("BIGINT")) return "int64";
  if (sqlType.startsWith("TIMESTAMP")) return "timestamp";
  if (sqlType.startsWith("INTEGER")) return "int32";
  if (sqlType.startsWith("DOUBLE")) return "double";
  if (sqlType.startsWith("BOOLEAN")) return "bool";
  if (sqlType.startsWith("DECIMAL(18")) return "cost";
  if (sqlType.startsWith("DECIMAL")) return "decimal";
  if (sqlType.startsWith("MAP")) return "map";
  throw new Error(`no chunk writer for ${sqlType}`);
}

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

const COLUMNS: readonly Column[] = EVENT_COLUMNS.map(([name, type]) => {
  const get = BY_NAME[name];
  if (!get) throw new Error(`no accessor for column ${name}`);
  return { kind: name === "cost_residual" ? "decimal" : kindOf(type), get };
});
const RESIDUAL_INDEX = EVENT_COLUMNS.findIndex(([name]) => name === "cost_residual");

const TWO_32 = 4294967296;
const MASK_64 = (1n << 64n) - 1n;

/**
 * A MAP is a LIST of STRUCT(key, value): each row's entry is (offset, length) into one child
 * vector holding every key/value pair of the chunk.
 */
function writeMap(vector: duckdb.Vector, col: Column, rows: readonly LedgerRow[], offset: number, n: number, maskBytes: number): void {
  const mask = new Uint8Array(maskBytes).fill(0xff);
  const entries = new Uint32Array(n * 4);
  const keys: string[] = [];
  const values: string[] = [];
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const tags = col.get(rows[offset + i] as LedgerRow) as Record<string, string> | null;
    if (tags === null || tags === undefined) {
      mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
      nulls++;
      entries[4 * i] = keys.length;
      continue;
    }
    entries[4 * i] = keys.length;
    let count = 0;
    for (const k in tags) {
      keys.push(k);
      values.push(tags[k] as string);
      count++;
    }
    entries[4 * i + 2] = count;
  }
  duckdb.copy_data_to_vector(vector, 0, entries.buffer, 0, entries.byteLength);
  duckdb.list_vector_reserve(vector, keys.length);
  duckdb.list_vector_set_size(vector, keys.length);
  const struct = duckdb.list_vector_get_child(vector);
  const keyVector = duckdb.struct_vector_get_child(struct, 0);
  const valueVector = duckdb.struct_vector_get_child(struct, 1);
  for (let j = 0; j < keys.length; j++) {
    duckdb.vector_assign_string_element(keyVector, j, keys[j] as string);
    duckdb.vector_assign_string_element(valueVector, j, values[j] as string);
  }
  if (nulls > 0) {
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer, 0, maskBytes);
  }
}

/** Writes rows[offset, offset+n) into the chunk, which must have been created with n rows. */
export function fillChunk(chunk: DuckDBDataChunk, rows: readonly LedgerRow[], offset: number, n: number): void {
  const maskBytes = Math.ceil(n / 64) * 8;
  const costs: Array<{ main: bigint; residual: bigint | null } | null> = new Array(n);
  for (let i = 0; i < n; i++) {
    const text = (rows[offset + i] as LedgerRow).cost_usd;
    costs[i] = text === null ? null : splitCost(text);
  }
  for (let c = 0; c < COLUMNS.length; c++) {
    const col = COLUMNS[c] as Column;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
    if (col.kind === "map") {
      writeMap(vector, col, rows, offset, n, maskBytes);
      continue;
    }
    const mask = new Uint8Array(maskBytes).fill(0xff);
    let nulls = 0;
    if (col.kind === "varchar") {
      for (let i = 0; i < n; i++) {
        const v = col.get(rows[offset + i] as LedgerRow) as string | null;
        if (v === null || v === undefined) {
          mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
          nulls++;
        } else duckdb.vector_assign_string_element(vector, i, v);
      }
    } else if (col.kind === "int64" || col.kind === "timestamp") {
      // Counts and epoch microseconds stay below 2^53: split into two 32-bit halves, no BigInt.
      const words = new Uint32Array(n * 2);
      const scale = col.kind === "timestamp" ? 1000 : 1;
      for (let i = 0; i < n; i++) {
        const v = col.get(rows[offset + i] as LedgerRow) as number | null;
        if (v === null || v === undefined) {
          mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
          nulls++;
        } else {
          const x = v * scale;
          words[2 * i] = x % TWO_32;
          words[2 * i + 1] = Math.floor(x / TWO_32);
        }
      }
      duckdb.copy_data_to_vector(vector, 0, words.buffer, 0, words.byteLength);
    } else if (col.kind === "int32" || col.kind === "double" || col.kind === "bool") {
      const data = col.kind === "int32" ? new Int32Array(n) : col.kind === "double" ? new Float64Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = col.get(rows[offset + i] as LedgerRow) as number | boolean | null;
        if (v === null || v === undefined) {
          mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
          nulls++;
        } else data[i] = typeof v === "boolean" ? (v ? 1 : 0) : v;
      }
      duckdb.copy_data_to_vector(vector, 0, data.buffer, 0, data.byteLength);
    } else if (col.kind === "cost") {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const cost = costs[i];
        if (!cost) {
          mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
          nulls++;
        } else data[i] = cost.main;
      }
      duckdb.copy_data_to_vector(vector, 0, data.buffer, 0, data.byteLength);
    } else {
      // DECIMAL(38, 18) is a 128-bit integer: low 64 bits unsigned, high 64 bits signed.
      const lo = new BigUint64Array(n * 2);
      const hi = new BigInt64Array(lo.buffer);
      for (let i = 0; i < n; i++) {
        const v = c === RESIDUAL_INDEX ? (costs[i]?.residual ?? null) : (col.get(rows[offset + i] as LedgerRow) as string | null);
        if (v === null || v === undefined) {
          mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
          nulls++;
        } else {
          const coef = typeof v === "bigint" ? v : Decimal.parse(v).rescale(MONEY_SCALE).coef;
          lo[2 * i] = coef & MASK_64;
          hi[2 * i + 1] = coef >> 64n;
        }
      }
      duckdb.copy_data_to_vector(vector, 0, lo.buffer, 0, lo.byteLength);
    }
    if (nulls > 0) {
      duckdb.vector_ensure_validity_writable(vector);
      duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer, 0, maskBytes);
    }
  }
}
