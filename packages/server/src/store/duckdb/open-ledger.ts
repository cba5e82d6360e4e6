import { Ledger } from "../ledger.js";
import { DuckDBDriver, type DuckDBDriverOptions } from "./driver.js";
import { LedgerThreadClient } from "./ledger-thread-client.js";

/**
 * Opens the embedded ledger: the DuckDB driver in this thread, or on a thread of its own
 * (which needs the compiled JavaScript of ledger-thread.ts beside this file).
 */
export async function openDuckDBLedger(options: DuckDBDriverOptions & { readonly thread?: boolean }): Promise<Ledger> {
  const { thread, ...driverOptions } = options;
  return new Ledger(thread ? await LedgerThreadClient.open(driverOptions) : await DuckDBDriver.open(driverOptions));
}
