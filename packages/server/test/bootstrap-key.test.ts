import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeyRing, hashApiKey } from "../src/auth/api-keys.js";
import { bootstrapAdminKey } from "../src/auth/bootstrap-key.js";

const HEX_64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "ct-boot-"));
}

function ringWith(key: string): KeyRing {
  const ring = new KeyRing();
  ring.replace([
    {
      id: "bootstrap-admin",
      name: "bootstrap admin",
      hash: hashApiKey(key),
      scopes: new Set(["admin"]),
      projects: null,
      source: "bootstrap",
    },
  ]);
  return ring;
}

describe("bootstrap admin key", () => {
  it("generates a key once, in a 0600 file, and reuses it after", async () => {
    const dir = await tempDir();
    const first = await bootstrapAdminKey(dir, {});
    expect(first.created).toBe(true);
    expect(first.key).toMatch(/^ct_[0-9A-Za-z]{40}$/);
    expect((await stat(first.file as string)).mode & 0o777).toBe(0o600);
    const second = await bootstrapAdminKey(dir, {});
    expect(second).toEqual({ key: first.key, created: false, file: first.file });
  });

  it("takes a ct_ key from COSTTRAIL_ADMIN_KEY", async () => {
    const key = `ct_${"k".repeat(30)}`;
    expect(await bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: key })).toEqual({ key, created: false, file: null });
  });

  it("takes an operator's secret such as openssl rand -hex 32 from COSTTRAIL_ADMIN_KEY", async () => {
    expect(await bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: HEX_64 })).toEqual({ key: HEX_64, created: false, file: null });
    const punctuated = "Zx9!#$%&'()*+,-./:;<=>?@[]^_`{|}~";
    expect((await bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: punctuated })).key).toBe(punctuated);
    expect((await bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: "a".repeat(512) })).key).toHaveLength(512);
  });

  it("refuses a COSTTRAIL_ADMIN_KEY shorter than 32 characters, stating the rule without echoing the secret", async () => {
    const err = await bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: "hunter2-hunter2-hunter2-hunter2" }).catch((e) => e);
    expect(err).toMatchObject({ code: "CT_INVALID_CONFIG", path: ["COSTTRAIL_ADMIN_KEY"] });
    expect(err.message).toBe(
      "COSTTRAIL_ADMIN_KEY must be 32 to 512 printable ASCII characters without spaces (openssl rand -hex 32 makes one); it has 31 characters",
    );
  });

  it("refuses a COSTTRAIL_ADMIN_KEY longer than 512 characters", async () => {
    await expect(bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: "a".repeat(513) })).rejects.toMatchObject({
      code: "CT_INVALID_CONFIG",
      message: expect.stringContaining("it has 513 characters"),
    });
  });

  it("refuses a COSTTRAIL_ADMIN_KEY with whitespace or characters outside printable ASCII", async () => {
    for (const bad of [`${HEX_64} `, `${HEX_64}\n`, `abc def${HEX_64}`, `${HEX_64}é`, `${HEX_64}\u0000`]) {
      await expect(bootstrapAdminKey(await tempDir(), { COSTTRAIL_ADMIN_KEY: bad })).rejects.toMatchObject({
        code: "CT_INVALID_CONFIG",
        path: ["COSTTRAIL_ADMIN_KEY"],
        message: expect.stringContaining("it has whitespace, a control character or a non-ASCII character"),
      });
    }
  });
});

describe("key ring", () => {
  it("finds an operator's chosen admin key by its hash", () => {
    expect(ringWith(HEX_64).find(HEX_64)?.id).toBe("bootstrap-admin");
  });

  it("finds a generated ct_ key", () => {
    const key = `ct_${"A1".repeat(20)}`;
    expect(ringWith(key).find(key)?.id).toBe("bootstrap-admin");
  });

  it("does not look up tokens of no key's form", () => {
    const ring = ringWith(HEX_64);
    expect(ring.find(HEX_64.slice(0, 31))).toBeNull();
    expect(ring.find("x".repeat(513))).toBeNull();
    expect(ring.find(`${HEX_64.slice(0, 40)} ${HEX_64.slice(0, 10)}`)).toBeNull();
  });
});
