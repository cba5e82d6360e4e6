import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CosttrailError } from "@costtrail/core";
import { ADMIN_KEY_RULE, generateApiKey, hasKeyForm } from "./api-keys.js";

export const ADMIN_KEY_FILE = "admin.key";

/**
 * The bootstrap admin key: COSTTRAIL_ADMIN_KEY when set (any secret ADMIN_KEY_RULE allows);
 * otherwise the key kept in the data directory (mode 0600), generated on first start.
 * `created` tells the caller to print it once.
 */
export async function bootstrapAdminKey(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ key: string; created: boolean; file: string | null }> {
  const fromEnv = env.COSTTRAIL_ADMIN_KEY;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!hasKeyForm(fromEnv)) {
      // The message never repeats the value: it is a secret, and error output is often logged.
      const found =
        fromEnv.length < 32 || fromEnv.length > 512
          ? `it has ${fromEnv.length} characters`
          : "it has whitespace, a control character or a non-ASCII character";
      throw new CosttrailError(
        "CT_INVALID_CONFIG",
        `COSTTRAIL_ADMIN_KEY must be ${ADMIN_KEY_RULE} (openssl rand -hex 32 makes one); ${found}`,
        {
          path: ["COSTTRAIL_ADMIN_KEY"],
        },
      );
    }
    return { key: fromEnv, created: false, file: null };
  }
  const file = join(dataDir, ADMIN_KEY_FILE);
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (hasKeyForm(existing)) return { key: existing, created: false, file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const key = generateApiKey();
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: "w" });
  await chmod(file, 0o600);
  return { key, created: true, file };
}
