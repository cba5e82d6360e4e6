import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootstrapAdminKey } from "../src/auth/bootstrap-key.js";

describe("bootstrap admin key", () => {
  it("generates a key once, in a 0600 file, and reuses it after", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-boot-"));
    const first = await bootstrapAdminKey(dir, {});
    expect(first.created).toBe(true);
    expect(first.key).toMatch(/^ct_[0-9A-Za-z]{40}$/);
    expect((await stat(first.file as string)).mode & 0o777).toBe(0o600);
    const second = await bootstrapAdminKey(dir, {});
    expect(second).toEqual({ key: first.key, created: false, file: first.file });
  });

  it("takes COSTTRAIL_ADMIN_KEY when set, and refuses one that is not a key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ct-boot-"));
    const key = `ct_${"k".repeat(30)}`;
    expect(await bootstrapAdminKey(dir, { COSTTRAIL_ADMIN_KEY: key })).toEqual({ key, created: false, file: null });
    await expect(bootstrapAdminKey(dir, { COSTTRAIL_ADMIN_KEY: "hunter2" })).rejects.toMatchObject({
      code: "CT_INVALID_CONFIG",
      path: ["COSTTRAIL_ADMIN_KEY"],
    });
  });
});
