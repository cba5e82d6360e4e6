import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

export interface WebPluginOptions {
  /** The dashboard's built files (index.html and assets/); null serves a page saying it is not built. */
  readonly root: string | null;
}

/** The dashboard's own paths: each is answered with the single page, which routes in the browser. */
export const DASHBOARD_PATHS = [
  "/",
  "/explore",
  "/runs",
  "/runs/:id",
  "/events",
  "/events/:id",
  "/budgets",
  "/alerts",
  "/prices",
  "/sign-in",
] as const;

/**
 * The page may load only its own scripts and talk only to this server. Chart.js writes style
 * attributes on its canvases, hence inline styles; nothing else is inline.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Costtrail</title>
<p style="font-family:sans-serif">The dashboard has not been built. Run <code>npm run build</code> and restart the server; the API answers meanwhile.</p>`;

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cache-control", "no-cache");
}

/** Serves the dashboard: hashed assets cached for a year, the page itself revalidated on every load. */
export async function webPlugin(app: FastifyInstance, opts: WebPluginOptions): Promise<void> {
  const root = opts.root !== null && existsSync(join(opts.root, "index.html")) ? opts.root : null;
  if (root === null) {
    for (const path of DASHBOARD_PATHS)
      app.get(path, async (_request, reply) => pageHeaders(reply).code(503).type("text/html; charset=utf-8").send(NOT_BUILT));
    return;
  }
  await app.register(fastifyStatic, {
    root: join(root, "assets"),
    prefix: "/assets/",
    // Looked up per request, not listed at start: a rebuild of the dashboard under a running server is served.
    wildcard: true,
    index: false,
    cacheControl: false,
    setHeaders: (res) => {
      res.setHeader("cache-control", "public, max-age=31536000, immutable");
      res.setHeader("x-content-type-options", "nosniff");
    },
  });
  for (const path of DASHBOARD_PATHS)
    app.get(path, async (_request, reply) => pageHeaders(reply).sendFile("index.html", root, { cacheControl: false }));
  if (existsSync(join(root, "favicon.svg")))
    app.get("/favicon.svg", async (_request, reply) =>
      reply.header("cache-control", "public, max-age=86400").sendFile("favicon.svg", root),
    );
}
