import { describe, expect, it } from "vitest";
import { RecentIds } from "./recent-ids.js";

describe("RecentIds", () => {
  it("knows every id at or after its horizon", () => {
    const r = new RecentIds(10, 1000);
    r.add("a", 1500);
    expect(r.covers(1000)).toBe(true);
    expect(r.covers(999)).toBe(false);
    expect(r.has("a")).toBe(true);
    expect(r.has("b")).toBe(false);
  });

  it("stays bounded and moves the horizon past what it drops", () => {
    const r = new RecentIds(10, 0);
    for (let i = 0; i < 25; i++) r.add(`e${i}`, 100 + i);
    expect(r.size).toBeLessThanOrEqual(10);
    // Every id kept is newer than the horizon, and every id newer than the horizon is kept.
    for (let i = 0; i < 25; i++) {
      if (100 + i >= r.horizon) expect(r.has(`e${i}`)).toBe(true);
    }
    expect(r.covers(100)).toBe(false);
  });

  it("moves the horizon only past recent ids it drops, never back for a late, old one", () => {
    const r = new RecentIds(10, 500);
    r.add("old", 10);
    for (let i = 0; i < 10; i++) r.add(`e${i}`, 600 + i);
    // Dropped: "old" (no move) and e0 (horizon to 601).
    expect(r.horizon).toBe(601);
    for (let i = 1; i < 10; i++) expect(r.has(`e${i}`)).toBe(true);
  });
});
