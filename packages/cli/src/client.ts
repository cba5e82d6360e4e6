import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CosttrailError } from "@costtrail/core";

export const DEFAULT_URL = "http://127.0.0.1:4680";

export interface ClientOptions {
  url?: string;
  apiKey?: string;
  dataDir?: string;
}

/**
 * Where a command finds its server and key: flags, then COSTTRAIL_URL / COSTTRAIL_API_KEY,
 * then the admin key a local `costtrail serve` wrote to its data directory.
 */
export function resolveClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const url = (opts.url ?? env.COSTTRAIL_URL ?? DEFAULT_URL).replace(/\/+$/, "");
  let key = opts.apiKey ?? env.COSTTRAIL_API_KEY;
  if (!key) {
    try {
      key = readFileSync(join(opts.dataDir ?? ".costtrail", "admin.key"), "utf8").trim();
    } catch {
      throw new CosttrailError(
        "CT_INVALID_ARGUMENT",
        "No API key: pass --api-key, set COSTTRAIL_API_KEY, or run next to a local server's .costtrail/admin.key",
        {
          path: ["--api-key"],
        },
      );
    }
  }
  return new ApiClient(url, key);
}

/** A thin HTTP client for the server's API; errors come back as the server's coded errors. */
export class ApiClient {
  constructor(
    readonly url: string,
    private readonly apiKey: string,
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.apiKey}`, ...(body !== undefined && { "content-type": "application/json" }), ...headers },
        ...(body !== undefined && { body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body) }),
      });
    } catch (e) {
      throw new CosttrailError(
        "CT_INVALID_ARGUMENT",
        `Cannot reach the Costtrail server at ${this.url}: ${(e as Error).cause ?? (e as Error).message}. Start it with \`costtrail serve\` or pass --url.`,
        {
          path: ["--url"],
          cause: e,
        },
      );
    }
    if (!res.ok) {
      let detail: { code?: string; message?: string; issues?: unknown[] } = {};
      try {
        detail = (await res.json()) as typeof detail;
      } catch {
        detail = { message: res.statusText };
      }
      const code = typeof detail.code === "string" && detail.code.startsWith("CT_") ? detail.code : "CT_INTERNAL";
      throw new CosttrailError(code as "CT_INTERNAL", `${res.status} ${detail.message ?? res.statusText}`, {
        issues: (detail.issues ?? []) as never,
      });
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}
