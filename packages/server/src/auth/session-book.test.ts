import { describe, expect, it } from "vitest";
import { SessionBook } from "./session-book.js";

describe("SessionBook", () => {
  it("ends a session left unused for the idle time, and any session at its maximum age however used", () => {
    let now = 0;
    const book = new SessionBook({ idleMs: 1_000, maxAgeMs: 5_000, now: () => now });
    const idle = book.open("k");
    const busy = book.open("k");
    for (now = 900; now <= 4_500; now += 900) expect(book.find(busy)?.keyId).toBe("k");
    expect(book.find(idle)).toBeNull();
    now = 5_100;
    expect(book.find(busy)).toBeNull();
  });

  it("keeps at most maxSessions, ending the least recently used first", () => {
    let now = 0;
    const book = new SessionBook({ maxSessions: 2, now: () => now });
    const a = book.open("a");
    const b = book.open("b");
    now = 1;
    book.find(a);
    book.open("c");
    expect(book.find(a)?.keyId).toBe("a");
    expect(book.find(b)).toBeNull();
  });

  it("redeems a sign-in link once and not after it expires; malformed tokens are never looked up", () => {
    let now = 0;
    const book = new SessionBook({ now: () => now });
    const once = book.createLink("admin", 60_000);
    expect(book.redeemLink(once)).toBe("admin");
    expect(book.redeemLink(once)).toBeNull();
    const late = book.createLink("admin", 60_000);
    now = 60_000;
    expect(book.redeemLink(late)).toBeNull();
    expect(book.redeemLink("../../etc")).toBeNull();
    expect(book.find("x".repeat(5000))).toBeNull();
    expect(book.close("nope")).toBe(false);
  });
});
