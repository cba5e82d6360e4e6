import { readFileSync } from "node:fs";
import { describe, it } from "vitest";

/** The current majors need Node 22 or later; on Node 20 they are neither installed nor tested. */
export const CURRENT_RUNTIME = Number(process.versions.node.split(".")[0]) >= 22;

/** A package's version as installed beside these tests (not the root's previous major). */
export function installedVersion(name: string, major: number): string {
  const file = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  let version: string;
  try {
    version = (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    throw new Error(
      `${name} is not installed in packages/sdk/test/current: run node scripts/install-current-majors.mjs on Node 22 or later`,
    );
  }
  if (!version.startsWith(`${major}.`)) throw new Error(`${name} ${version} is installed there, but these tests are for ${major}.x`);
  return version;
}

/** Says in the report why a current major's tests did not run. */
export function skippedOnThisRuntime(what: string): void {
  describe.skip(`${what} (needs Node 22 or later; this is Node ${process.versions.node})`, () => {
    it("runs on Node 22 and later", () => {});
  });
}
