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
  readonly source: "config" | "store" | "bootstrap";
}

export function hasScope(key: ApiKeyRecord, scope: Scope): boolean {
  return key.scopes.has(scope) || key.scopes.has("admin");
}

/** The key ring: config keys, keys created at run time, and the bootstrap admin key, looked up by hash. */
export class KeyRing {
  private byHash = new Map<string, ApiKeyRecord>();

  replace(records: Iterable<ApiKeyRecord>): void {
    const next = new Map<string, ApiKeyRecord>();
    for (const r of records) next.set(r.hash, r);
    this.byHash = next;
  }

  add(record: ApiKeyRecord): void {
    this.byHash.set(record.hash, record);
  }

  /** The record for a presented key, or null. The hash lookup never compares secrets directly. */
  find(presented: string): ApiKeyRecord | null {
    // A cheap guard before hashing: junk of any length or charset is not looked up.
    if (!hasKeyForm(presented)) return null;
    return this.byHash.get(hashApiKey(presented)) ?? null;
  }

  list(): ApiKeyRecord[] {
    return [...this.byHash.values()];
  }
}
