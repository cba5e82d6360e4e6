import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor.js";

describe("page cursors", () => {
  it("decode to what they encoded, before 1970 too", () => {
    for (const c of [
      { ts_ms: Date.parse("2026-11-20T10:00:00Z"), id: "evt_01" },
      { ts_ms: Date.parse("1965-06-01T00:00:00Z"), id: "o3" },
      { ts_ms: 0, id: "a:b.c-d" },
    ])
      expect(decodeCursor(encodeCursor(c))).toEqual(c);
  });

  it("refuse what no page could have ended on", () => {
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const text of [
      forged([1e308, "a"]),
      forged([1.5, "a"]),
      forged([1, "a b"]),
      forged([1, ""]),
      forged({ ts: 1 }),
      "",
      "a b",
      "x".repeat(600),
    ])
      expect(() => decodeCursor(text)).toThrow(expect.objectContaining({ code: "CT_INVALID_CURSOR", path: ["query", "cursor"] }));
  });
});
