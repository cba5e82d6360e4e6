import { defineConfig } from "vite";

// The page is served by the Costtrail server at /; in development, `vite` proxies the API to
// a server on the default port.
export default defineConfig({
  root: "src",
  publicDir: "../public",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 700,
    rolldownOptions: {
      // React Query marks its modules "use client" for server components; a plain SPA has none.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  oxc: { jsx: { runtime: "automatic" } },
  server: { proxy: { "/v1": "http://127.0.0.1:4680" } },
});
