import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CosttrailError } from "@costtrail/core";
import { generateApiKey, looksLikeApiKey } from "./api-keys.js";

export const ADMIN_KEY_FILE = "admin.key";

/**
 * The bootstrap admin key: COSTTRAIL_ADMIN_KEY when set; otherwise the key kept in the
 * data directory (mode 0600), generated on first start. `created` tells the caller to
 * print it once.
 */
export async function bootstrapAdminKey(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ key: string; created: boolean; file: string | null }> {
  const fromEnv = env.COSTTRAIL_ADMIN_KEY;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!looksLikeApiKey(fromEnv)) {
      throw new CosttrailError("CT_INVALID_CONFIG", "COSTTRAIL_ADMIN_KEY must look like ct_ followed by 20 to 80 letters and digits", {
        path: ["COSTTRAIL_ADMIN_KEY"],
      });
    }
    return { key: fromEnv, created: false, file: null };
  }
  const file = join(dataDir, ADMIN_KEY_FILE);
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (looksLikeApiKey(existing)) return { key: existing, created: false, file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const key = generateApiKey();
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: "w" });
  await chmod(file, 0o600);
  return { key, created: true, file };
}
