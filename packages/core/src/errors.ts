/**
 * The one catalogue of Costtrail error codes. Every error that crosses a package
 * boundary carries one of these codes; callers check `err.code`, never `instanceof`,
 * because two copies of core may be installed side by side.
 */
export const ERROR_CODES = {
  CT_INVALID_EVENT: { status: 400, message: "The usage event is invalid." },
  CT_INVALID_USAGE: { status: 400, message: "The provider usage object is invalid." },
  CT_UNKNOWN_API: { status: 400, message: "The provider API is not one Costtrail can normalize." },
  CT_INVALID_RATE_CARD: { status: 400, message: "A rate card entry is invalid." },
  CT_INVALID_DECIMAL: { status: 400, message: "The value is not an exact decimal number." },
  CT_INVALID_CONFIG: { status: 400, message: "The configuration is invalid." },
  CT_INVALID_ARGUMENT: { status: 400, message: "A command-line argument is invalid." },
  CT_INVALID_QUERY: { status: 400, message: "The query is invalid." },
  CT_INVALID_CURSOR: { status: 400, message: "The page cursor is not one this server issued." },
  CT_INVALID_JSON: { status: 400, message: "The request body is not valid JSON." },
  CT_INVALID_BODY: { status: 400, message: "The request body could not be read." },
  CT_UNAUTHORIZED: { status: 401, message: "A valid API key is required: send Authorization: Bearer ct_…" },
  CT_FORBIDDEN: { status: 403, message: "The API key does not have the scope this request needs." },
  CT_NOT_FOUND: { status: 404, message: "No such route." },
  CT_KEY_NOT_FOUND: { status: 404, message: "No API key has this id." },
  CT_PRICE_NOT_FOUND: { status: 404, message: "No rate card entry prices this model." },
  CT_VERSION_NOT_FOUND: { status: 404, message: "No price version has this number." },
  CT_METHOD_NOT_ALLOWED: { status: 405, message: "The route does not accept this method." },
  CT_URL_TOO_LONG: { status: 414, message: "A part of the URL is longer than the server accepts." },
  CT_KEY_NOT_REVOCABLE: {
    status: 409,
    message: "The key comes from costtrail.yaml or is the bootstrap admin key; it cannot be revoked or rotated through the API.",
  },
  CT_CONFLICT: { status: 409, message: "The request conflicts with the resource's current state." },
  CT_REPRICE_RUNNING: { status: 409, message: "A re-pricing is already running; wait for it to finish." },
  CT_KEY_REVOKED: { status: 409, message: "The key is revoked, or a rotation has set when it stops working; it cannot be rotated again." },
  CT_PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is larger than the server accepts." },
  CT_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Send application/json or application/x-ndjson, optionally gzip-encoded." },
  CT_OVERLOADED: { status: 503, message: "The ledger writer is behind; retry after the given delay." },
  CT_SHUTTING_DOWN: { status: 503, message: "The server is shutting down; retry against another replica or later." },
  CT_MEMORY_LIMIT: { status: 503, message: "The query needs more memory than the ledger may use." },
  CT_STORE_FAILED: { status: 500, message: "The ledger store failed." },
  CT_INTERNAL: { status: 500, message: "An internal error occurred." },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A path into the checked value: object keys and array indexes, outermost first. */
export type IssuePath = ReadonlyArray<string | number>;

/** One problem found in input, as data: the collector and the CLI report these verbatim. */
export interface Issue {
  readonly code: IssueCode;
  readonly path: IssuePath;
  readonly message: string;
}

/** The closed set of reasons a single field can be rejected. */
export type IssueCode =
  | "required"
  | "unknown_field"
  | "invalid_type"
  | "not_integer"
  | "negative"
  | "too_large"
  | "not_finite"
  | "too_long"
  | "too_many"
  | "invalid_format"
  | "invalid_value"
  | "inconsistent";

export type Result<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

export class CosttrailError extends Error {
  readonly code: ErrorCode;
  readonly path: IssuePath;
  readonly issues: readonly Issue[];

  constructor(code: ErrorCode, message?: string, options: { path?: IssuePath; issues?: readonly Issue[]; cause?: unknown } = {}) {
    super(message ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CosttrailError";
    this.code = code;
    this.path = options.path ?? options.issues?.[0]?.path ?? [];
    this.issues = options.issues ?? [];
  }

  toJSON(): { code: ErrorCode; message: string; path: IssuePath; issues?: readonly Issue[] } {
    return this.issues.length > 0
      ? { code: this.code, message: this.message, path: this.path, issues: this.issues }
      : { code: this.code, message: this.message, path: this.path };
  }
}

/** Renders a path the way people write it: `events[3].usage.output_tokens`. */
export function formatPath(path: IssuePath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else if (out === "" && /^--[\w-]+$/.test(part)) out = part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** `events[3].usage.output_tokens: must be a non-negative integer` */
export function formatIssue(issue: Issue): string {
  const where = formatPath(issue.path);
  return where === "" ? issue.message : `${where}: ${issue.message}`;
}

export function issue(code: IssueCode, path: IssuePath, message: string): Issue {
  return { code, path, message };
}
