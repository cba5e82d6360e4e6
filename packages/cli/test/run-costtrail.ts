import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BIN } from "./server-process.js";

const run = promisify(execFile);

/** Runs the built `costtrail` binary; resolves with its exit code, stdout and stderr. */
export async function runCosttrail(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      timeout: options.timeout ?? 20_000,
      cwd: options.cwd,
      env: options.env ?? process.env,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
