import type { GatewayProvider } from "../config/gateway-config.js";

/** How one provider's clients authenticate and expect errors, so the gateway answers in kind. */
export interface Dialect {
  readonly provider: GatewayProvider;
  /** An error body the provider's official client parses into its own error class. */
  errorBody(status: number, message: string, param?: string): unknown;
  /** An error as an event of a stream already under way, which the official clients throw. */
  streamError(message: string): string;
  /** The provider credential the client sent, if any. */
  credential(headers: Record<string, string | string[] | undefined>): string | undefined;
  /** Puts a provider key in place of the credential the client sent. */
  setCredential(headers: Headers, key: string): void;
}

const OPENAI_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "permission_error",
  404: "not_found_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
  502: "server_error",
  504: "server_error",
};

/** https://platform.openai.com/docs/guides/error-codes: `{ error: { message, type, param, code } }`. */
export const openaiDialect: Dialect = {
  provider: "openai",
  errorBody(status, message, param) {
    const type = OPENAI_TYPES[status] ?? (status >= 500 ? "server_error" : "invalid_request_error");
    return { error: { message, type, param: param ?? null, code: `costtrail_${status}` } };
  },
  streamError(message) {
    return `data: ${JSON.stringify({ error: { message, type: "costtrail_budget_exceeded", param: null, code: "costtrail_budget_exceeded" } })}\n\n`;
  },
  credential(headers) {
    const auth = headers.authorization;
    const m = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    if (m) return m[1];
    const azure = headers["api-key"];
    return typeof azure === "string" ? azure : undefined;
  },
  setCredential(headers, key) {
    headers.delete("api-key");
    headers.set("authorization", `Bearer ${key}`);
  },
};

const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  502: "api_error",
  504: "timeout_error",
};

/** https://docs.anthropic.com/en/api/errors: `{ type: "error", error: { type, message } }`. */
export const anthropicDialect: Dialect = {
  provider: "anthropic",
  errorBody(status, message) {
    return { type: "error", error: { type: ANTHROPIC_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"), message } };
  },
  streamError(message) {
    return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "costtrail_budget_exceeded", message } })}\n\n`;
  },
  credential(headers) {
    const key = headers["x-api-key"];
    if (typeof key === "string") return key;
    const auth = headers.authorization;
    const m = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    return m?.[1];
  },
  setCredential(headers, key) {
    headers.delete("authorization");
    headers.set("x-api-key", key);
  },
};
