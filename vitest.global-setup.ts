import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Every test file, and every process it starts, makes its temporary files under one directory
 * for this run (TMPDIR is what os.tmpdir() reads), removed when the run ends, so a suite that
 * fails or is interrupted half-way cannot leave ledgers behind in the system's temp folder.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "costtrail-test-run-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
