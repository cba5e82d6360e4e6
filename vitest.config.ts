import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@costtrail\/core$/, replacement: src("core") },
      {
        find: /^@costtrail\/core\/default-rate-card$/,
        replacement: fileURLToPath(new URL("./packages/core/src/pricing/default-rate-card.ts", import.meta.url)),
      },
    ],
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    pool: "forks",
    globalSetup: ["./vitest.global-setup.ts"],
    testTimeout: 30_000,
    // A page's data can take seconds on a loaded 2-core machine; polls wait up to 10 s, not 1.
    expect: { poll: { timeout: 10_000 } },
  },
});
