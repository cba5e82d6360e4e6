import { CosttrailError, LIMITS } from "@costtrail/core";
import type { EventCursor } from "./ledger-driver.js";

/** The instants a cursor may name: JavaScript's Date range, before 1970 too (a configured floor may be that early). */
const MAX_TS_MS = 8.64e15;
const ID_RE = /^[\w.:-]+$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;

/** A page's cursor: the last event's time and id, opaque to clients. */
export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(JSON.stringify([cursor.ts_ms, cursor.id])).toString("base64url");
}

function invalid(reason: string): CosttrailError {
  return new CosttrailError("CT_INVALID_CURSOR", `cursor: ${reason}; pass a next_cursor this server returned, or none`, {
    path: ["query", "cursor"],
  });
}

/** Decodes a cursor a client sent back; anything this server could not have issued is refused. */
export function decodeCursor(text: string): EventCursor {
  if (text.length === 0 || text.length > 512 || !BASE64URL_RE.test(text)) throw invalid("is not a cursor this server issued");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw invalid("is not a cursor this server issued");
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid("is not a cursor this server issued");
  const [ts, id] = parsed as [unknown, unknown];
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || Math.abs(ts) > MAX_TS_MS) throw invalid("names an impossible time");
  if (typeof id !== "string" || id.length === 0 || id.length > LIMITS.idChars || !ID_RE.test(id))
    throw invalid("names an impossible event id");
  return { ts_ms: ts, id };
}
