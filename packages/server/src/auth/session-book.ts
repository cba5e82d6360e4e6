import { createHash, randomBytes } from "node:crypto";

/**
 * Browser sessions of the dashboard, and one-time sign-in links.
 *
 * A session stands for one API key: the browser holds only a random session token in an
 * HttpOnly cookie, never the key, so the key is not in its storage or history. Each request
 * made with the session is judged as if it carried the key, so a revoked key ends its sessions
 * and a key limited to projects sees the same projects. Tokens are kept hashed; the book lives
 * in memory, so a restart signs every browser out (the start banner prints a fresh link).
 */
export interface Session {
  readonly keyId: string;
  readonly createdMs: number;
  lastUsedMs: number;
}

interface SignInLink {
  readonly keyId: string;
  readonly expiresMs: number;
}

export interface SessionBookOptions {
  /** A session unused this long ends (default 12 hours). */
  readonly idleMs?: number;
  /** A session ends this long after sign-in, used or not (default 7 days). */
  readonly maxAgeMs?: number;
  /** The most sessions kept; signing in past it ends the least recently used (default 10,000). */
  readonly maxSessions?: number;
  readonly now?: () => number;
}

const hash = (token: string) => createHash("sha256").update(token).digest("base64url");
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export class SessionBook {
  private readonly sessions = new Map<string, Session>();
  private readonly links = new Map<string, SignInLink>();
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(opts: SessionBookOptions = {}) {
    this.idleMs = opts.idleMs ?? 12 * 3_600_000;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 86_400_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** A new session for a key; returns the token the browser keeps. */
  open(keyId: string): string {
    const token = randomBytes(32).toString("base64url");
    const at = this.now();
    if (this.sessions.size >= this.maxSessions) {
      // Maps iterate in insertion order and `find` re-inserts on use: the first is the least recently used.
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(hash(token), { keyId, createdMs: at, lastUsedMs: at });
    return token;
  }

  /** The live session for a token, marked as used; null when unknown, idle too long or too old. */
  find(token: string): Session | null {
    if (!TOKEN_RE.test(token)) return null;
    const h = hash(token);
    const s = this.sessions.get(h);
    if (!s) return null;
    const at = this.now();
    this.sessions.delete(h);
    if (at - s.lastUsedMs > this.idleMs || at - s.createdMs > this.maxAgeMs) return null;
    s.lastUsedMs = at;
    this.sessions.set(h, s);
    return s;
  }

  close(token: string): boolean {
    return TOKEN_RE.test(token) && this.sessions.delete(hash(token));
  }

  /** A sign-in link's token for a key: good for one sign-in within `ttlMs`. */
  createLink(keyId: string, ttlMs: number): string {
    const token = randomBytes(32).toString("base64url");
    const at = this.now();
    for (const [h, l] of this.links) if (l.expiresMs <= at) this.links.delete(h);
    this.links.set(hash(token), { keyId, expiresMs: at + ttlMs });
    return token;
  }

  /** The key a link signs in as, spending the link; null when unknown, spent or expired. */
  redeemLink(token: string): string | null {
    if (!TOKEN_RE.test(token)) return null;
    const h = hash(token);
    const link = this.links.get(h);
    if (!link) return null;
    this.links.delete(h);
    return link.expiresMs > this.now() ? link.keyId : null;
  }
}
