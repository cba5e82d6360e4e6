import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Scope } from "../config/load-config.js";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_RE = /^ct_[0-9A-Za-z]{20,80}$/;
/** A key an operator chose: printable ASCII without whitespace, since it travels in an Authorization header. */
const CHOSEN_KEY_RE = /^[\x21-\x7e]{32,512}$/;
export const ADMIN_KEY_RULE = "32 to 512 printable ASCII characters without spaces";

/** A new key: `ct_` and 40 base62 characters (~238 bits from the OS's CSPRNG). */
export function generateApiKey(): string {
  const bytes = randomBytes(40);
  let out = "ct_";
  // 62 * 4 = 248 ≤ 256: rejecting the top 8 values keeps every character equally likely.
  for (const b of bytes) out += b < 248 ? ALPHABET[b % 62] : ALPHABET[randomBytes(1)[0]! % 62];
  return out;
}

/** A key Costtrail generated: `ct_` and letters and digits. */
export function looksLikeApiKey(value: string): boolean {
  return KEY_RE.test(value);
}

/**
 * A string of a form some key has: generated (`ct_…`), or chosen by an operator as
 * COSTTRAIL_ADMIN_KEY (`openssl rand -hex 32` makes one).
 */
export function hasKeyForm(value: string): boolean {
  return CHOSEN_KEY_RE.test(value) || KEY_RE.test(value);
}

/**
 * Keys are random and long, so a plain SHA-256 is the right hash: a slow password hash
 * would only add latency to every request without adding safety.
 */
export function hashApiKey(key: string): string {
  return `sha256:${createHash("sha256").update(key).digest("hex")}`;
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What a request's key may do: who it is and which projects it sees. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly scopes: ReadonlySet<Scope>;
  /** null: every project. */
  readonly projects: readonly string[] | null;
  readonly source: KeySource;
  /** Absent or null when unknown: configured and bootstrap keys. */
  readonly created_ms?: number | null;
  /** The key is refused from this instant on (a rotated key keeps working until then); absent or null: never. */
  readonly revoked_ms?: number | null;
}

export type KeySource = "config" | "store" | "bootstrap";

const SOURCE_ORDER: Record<KeySource, number> = { bootstrap: 0, config: 1, store: 2 };

export function hasScope(key: ApiKeyRecord, scope: Scope): boolean {
  return key.scopes.has(scope) || key.scopes.has("admin");
}

export function isRevoked(key: ApiKeyRecord, atMs: number): boolean {
  return (key.revoked_ms ?? Number.POSITIVE_INFINITY) <= atMs;
}

/**
 * The key ring: config keys, keys created at run time, and the bootstrap admin key, looked up by hash.
 * It also keeps each key's last use. Uses are recorded in memory on every request and written to the
 * store in batches (`takeUsage`), since a write per request would put the ledger on the hot path.
 */
export class KeyRing {
  private byHash = new Map<string, ApiKeyRecord>();
  private readonly lastUsed = new Map<string, number>();
  private unsaved = new Map<string, number>();

  constructor(readonly now: () => number = Date.now) {}

  replace(records: Iterable<ApiKeyRecord>): void {
    const next = new Map<string, ApiKeyRecord>();
    for (const r of records) next.set(r.hash, r);
    this.byHash = next;
  }

  /** Swaps the keys of one source (a reload's configured keys); the others keep their state, revocations included. */
  replaceSource(source: KeySource, records: Iterable<ApiKeyRecord>): void {
    this.replace([...this.byHash.values()].filter((r) => r.source !== source).concat([...records]));
  }

  add(record: ApiKeyRecord): void {
    this.byHash.set(record.hash, record);
  }

  get(id: string): ApiKeyRecord | null {
    for (const r of this.byHash.values()) if (r.id === id) return r;
    return null;
  }

  /** Refuses the key from `atMs` on; an earlier revocation stands. Returns the updated record, or null for an unknown id. */
  revoke(id: string, atMs: number): ApiKeyRecord | null {
    const r = this.get(id);
    if (!r) return null;
    const updated = { ...r, revoked_ms: Math.min(r.revoked_ms ?? atMs, atMs) };
    this.byHash.set(r.hash, updated);
    return updated;
  }

  /** The record for a presented key that is not revoked, or null. The hash lookup never compares secrets directly. */
  find(presented: string): ApiKeyRecord | null {
    // A cheap guard before hashing: junk of any length or charset is not looked up.
    if (!hasKeyForm(presented)) return null;
    const r = this.byHash.get(hashApiKey(presented));
    return r && !isRevoked(r, this.now()) ? r : null;
  }

  /** Every key, revoked ones too: bootstrap, then configured, then created ones in the order they were made. */
  list(): ApiKeyRecord[] {
    return [...this.byHash.values()].sort((a, b) => SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source]);
  }

  recordUse(id: string): void {
    const at = this.now();
    this.lastUsed.set(id, at);
    this.unsaved.set(id, at);
  }

  lastUsedMs(id: string): number | null {
    return this.lastUsed.get(id) ?? null;
  }

  /** Last uses read from the store at start; a later use seen by this process wins. */
  loadUsage(usage: ReadonlyMap<string, number>): void {
    for (const [id, at] of usage) if ((this.lastUsed.get(id) ?? -1) < at) this.lastUsed.set(id, at);
  }

  /** The uses recorded since the last call, for one batched write; `returnUsage` gives them back if the write fails. */
  takeUsage(): Map<string, number> {
    const batch = this.unsaved;
    this.unsaved = new Map();
    return batch;
  }

  returnUsage(batch: ReadonlyMap<string, number>): void {
    for (const [id, at] of batch) if ((this.unsaved.get(id) ?? -1) < at) this.unsaved.set(id, at);
  }
}
