/** The dashboard's only way to the server: its HTTP API, with the session cookie. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Told when a request finds the session gone (expired, signed out elsewhere, key revoked). */
let onSignedOut: (message: string) => void = () => {};
export function whenSignedOut(fn: (message: string) => void): void {
  onSignedOut = fn;
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        accept: "application/json",
        ...(body !== undefined && { "content-type": "application/json" }),
        ...(method !== "GET" && { "x-costtrail-csrf": "1" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(signal && { signal }),
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "CT_UNREACHABLE", "The Costtrail server cannot be reached. Is it running?");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: reported below by status.
  }
  if (!res.ok) {
    const err = (parsed ?? {}) as { code?: string; message?: string };
    const e = new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `The server answered ${res.status}`);
    if (res.status === 401 && path !== "/v1/sessions") onSignedOut(e.message);
    throw e;
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>("GET", path, undefined, signal),
  post: <T>(path: string, body: unknown, signal?: AbortSignal) => request<T>("POST", path, body, signal),
  delete: <T>(path: string) => request<T>("DELETE", path),
};
