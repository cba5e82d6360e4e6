// The ledger thread runs compiled JavaScript: that arrangement drives the built module (npm test builds first).
import { openDuckDBLedger as openBuilt } from "../dist/store/duckdb/open-ledger.js";
import { openDuckDBLedger } from "../src/store/duckdb/open-ledger.js";
import { ledgerContract } from "./ledger-contract.js";

ledgerContract("DuckDB in this thread", (path) => openDuckDBLedger({ path }));
ledgerContract("DuckDB on the ledger thread", (path) => openBuilt({ path, thread: true }));
