import { existsSync } from "node:fs";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DuckDBDriver } from "../src/store/duckdb/driver.js";
import type { LedgerDriver } from "../src/store/ledger-driver.js";
import { Ledger } from "../src/store/ledger.js";
import { preparedEvents, wireEvent } from "./helpers.js";

/** The real DuckDB driver, with one failure injected where a disk could fail: after the export file is written. */
function failingAfterCopy(driver: DuckDBDriver): LedgerDriver {
  return {
    dialect: driver.dialect,
    append: (events, receivedMs) => driver.append(events, receivedMs),
    all: (s) => driver.all(s),
    execute: (s) => driver.execute(s),
    copyTo: async (s, path, format) => {
      await driver.copyTo(s, path, format);
      expect(existsSync(path)).toBe(true);
      throw new Error("No space left on device");
    },
    pendingRows: () => driver.pendingRows(),
    close: () => driver.close(),
  };
}

describe("the shared ledger layer", () => {
  it("removes an export file the driver wrote before failing, and answers CT_STORE_FAILED", async () => {
    const driver = await DuckDBDriver.open({ path: ":memory:" });
    const ledger = new Ledger(failingAfterCopy(driver));
    try {
      await ledger.append(await preparedEvents([wireEvent(), wireEvent()]));
      const dir = await mkdtemp(join(tmpdir(), "ct-ledger-"));
      const err = await ledger
        .exportTo(join(dir, "out.parquet"), "parquet", { from: 0, to: 8.64e15, filters: [] }, { projects: null })
        .catch((e) => e);
      expect(err).toMatchObject({ code: "CT_STORE_FAILED" });
      expect(String(err.cause?.message)).toContain("No space left on device");
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  it("passes a refusal to write (shutting down) through with its own code, and wraps any other driver failure once, keeping the statement", async () => {
    const driver = await DuckDBDriver.open({ path: ":memory:" });
    const ledger = new Ledger(driver);
    await driver.close();
    const err = await ledger.count({ projects: null }).catch((e) => e);
    expect(err).toMatchObject({ code: "CT_STORE_FAILED", message: "The ledger store failed." });
    expect(err.cause?.statement?.sql).toMatch(/SELECT count\(\*\)/);
    await expect(ledger.append(await preparedEvents([wireEvent()]))).rejects.toMatchObject({ code: "CT_SHUTTING_DOWN" });
  });
});
