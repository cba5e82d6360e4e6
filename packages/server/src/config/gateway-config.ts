import { type Issue, isPlainObject } from "@costtrail/core";

export const GATEWAY_PROVIDERS = ["openai", "anthropic"] as const;
export type GatewayProvider = (typeof GATEWAY_PROVIDERS)[number];

/**
 * A key an app presents as its provider credential. The gateway puts the real provider key,
 * read from the environment, in its place, and attributes the call to the key's defaults.
 */
export interface VirtualKey {
  readonly name: string;
  /** `sha256:<hex>` of the key; the key itself never sits in the file. */
  readonly hash: string;
  readonly provider: GatewayProvider;
  /** The environment variable holding the provider's key. */
  readonly provider_key_env: string;
  readonly project?: string;
  readonly team?: string;
  readonly cost_center?: string;
  readonly environment?: string;
}

export interface GatewaySettings {
  /** Where each provider's API is; the gateway's `/openai/v1/<path>` goes to `<openai>/<path>`, `/anthropic/<path>` to `<anthropic>/<path>`. */
  readonly upstreams: Readonly<Record<GatewayProvider, string>>;
  /** How long an upstream may take to answer headers, and to send the rest, before a 504. */
  readonly timeout_ms: number;
  /** The largest request body forwarded. */
  readonly max_body_bytes: number;
  /** The output bound of an estimate when a request sets no max_tokens. */
  readonly default_max_output_tokens: number;
  readonly virtual_keys: readonly VirtualKey[];
}

export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  upstreams: { openai: "https://api.openai.com/v1", anthropic: "https://api.anthropic.com" },
  timeout_ms: 600_000,
  max_body_bytes: 32 * 1024 * 1024,
  default_max_output_tokens: 4096,
  virtual_keys: [],
};

const KEYS = ["upstreams", "timeout", "max_body_bytes", "default_max_output_tokens", "virtual_keys"] as const;
const VIRTUAL_KEY_FIELDS = ["name", "hash", "provider", "provider_key_env", "project", "team", "cost_center", "environment"] as const;
const HASH_RE = /^sha256:[0-9a-f]{64}$/;
const DURATION_RE = /^(\d{1,7})(ms|s|m)$/;
const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000 } as const;

function checkUrl(v: unknown, path: Issue["path"], issues: Issue[]): string | null {
  if (typeof v !== "string") {
    issues.push({ code: "invalid_type", path, message: "must be a URL such as https://api.openai.com/v1" });
    return null;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    issues.push({ code: "invalid_format", path, message: `must be an absolute http(s) URL, got ${JSON.stringify(v)}` });
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    issues.push({ code: "invalid_format", path, message: `must be an http or https URL, got ${JSON.stringify(v)}` });
    return null;
  }
  if (url.search || url.hash) {
    issues.push({ code: "invalid_format", path, message: "must not carry a query or a fragment" });
    return null;
  }
  return v.replace(/\/+$/, "");
}

function checkVirtualKeys(v: unknown, issues: Issue[]): VirtualKey[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.push({
      code: "invalid_type",
      path: ["gateway", "virtual_keys"],
      message: "must be a list of {name, hash, provider, provider_key_env}",
    });
    return [];
  }
  const seen = new Set<string>();
  return v.flatMap((k, i): VirtualKey[] => {
    const p = ["gateway", "virtual_keys", i];
    if (!isPlainObject(k)) {
      issues.push({ code: "invalid_type", path: p, message: "must be an object {name, hash, provider, provider_key_env}" });
      return [];
    }
    const before = issues.length;
    for (const key of Object.keys(k)) {
      if (!(VIRTUAL_KEY_FIELDS as readonly string[]).includes(key))
        issues.push({
          code: "unknown_field",
          path: [...p, key],
          message: `is not a known field; expected ${VIRTUAL_KEY_FIELDS.join(", ")}`,
        });
    }
    if (typeof k.name !== "string" || k.name === "") issues.push({ code: "required", path: [...p, "name"], message: "is required" });
    if (typeof k.hash !== "string" || !HASH_RE.test(k.hash))
      issues.push({
        code: "invalid_format",
        path: [...p, "hash"],
        message: "must be sha256:<64 hex digits>; `costtrail keys hash <key>` prints it",
      });
    else if (seen.has(k.hash))
      issues.push({ code: "invalid_value", path: [...p, "hash"], message: "is the hash of an earlier virtual key" });
    else seen.add(k.hash);
    if (!(GATEWAY_PROVIDERS as readonly unknown[]).includes(k.provider))
      issues.push({ code: "invalid_value", path: [...p, "provider"], message: `must be one of ${GATEWAY_PROVIDERS.join(", ")}` });
    if (typeof k.provider_key_env !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k.provider_key_env))
      issues.push({
        code: "invalid_format",
        path: [...p, "provider_key_env"],
        message: "must name an environment variable (letters, digits and '_'), e.g. OPENAI_API_KEY",
      });
    for (const f of ["project", "team", "cost_center", "environment"] as const) {
      if (k[f] !== undefined && (typeof k[f] !== "string" || k[f] === "" || (k[f] as string).length > 256))
        issues.push({ code: "invalid_value", path: [...p, f], message: "must be a non-empty string of at most 256 characters" });
    }
    if (issues.length > before) return [];
    const out: Record<string, unknown> = {};
    for (const f of VIRTUAL_KEY_FIELDS) if (k[f] !== undefined) out[f] = k[f];
    return [out as unknown as VirtualKey];
  });
}

/** The `gateway:` section of costtrail.yaml, checked; defaults where it says nothing. */
export function checkGateway(v: unknown, issues: Issue[]): GatewaySettings {
  if (v === undefined) return DEFAULT_GATEWAY_SETTINGS;
  if (!isPlainObject(v)) {
    issues.push({ code: "invalid_type", path: ["gateway"], message: "must be a mapping of gateway settings" });
    return DEFAULT_GATEWAY_SETTINGS;
  }
  for (const k of Object.keys(v)) {
    if (!(KEYS as readonly string[]).includes(k))
      issues.push({ code: "unknown_field", path: ["gateway", k], message: `is not a known field; expected ${KEYS.join(", ")}` });
  }
  const upstreams = { ...DEFAULT_GATEWAY_SETTINGS.upstreams };
  if (v.upstreams !== undefined) {
    if (!isPlainObject(v.upstreams))
      issues.push({ code: "invalid_type", path: ["gateway", "upstreams"], message: "must map openai and anthropic to URLs" });
    else {
      for (const [name, url] of Object.entries(v.upstreams)) {
        if (!(GATEWAY_PROVIDERS as readonly string[]).includes(name)) {
          issues.push({
            code: "unknown_field",
            path: ["gateway", "upstreams", name],
            message: `is not a known provider; expected ${GATEWAY_PROVIDERS.join(", ")}`,
          });
          continue;
        }
        const checked = checkUrl(url, ["gateway", "upstreams", name], issues);
        if (checked) upstreams[name as GatewayProvider] = checked;
      }
    }
  }
  let timeout_ms = DEFAULT_GATEWAY_SETTINGS.timeout_ms;
  if (v.timeout !== undefined) {
    const m = typeof v.timeout === "string" ? DURATION_RE.exec(v.timeout) : null;
    const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS] : 0;
    if (ms < 1 || ms > 3_600_000)
      issues.push({ code: "invalid_value", path: ["gateway", "timeout"], message: 'must be a duration from 1ms to 60m, e.g. "600s"' });
    else timeout_ms = ms;
  }
  const integer = (key: "max_body_bytes" | "default_max_output_tokens", max: number) => {
    const val = v[key];
    if (val === undefined) return DEFAULT_GATEWAY_SETTINGS[key];
    if (typeof val !== "number" || !Number.isInteger(val) || val < 1 || val > max) {
      issues.push({ code: "invalid_value", path: ["gateway", key], message: `must be an integer from 1 to ${max}` });
      return DEFAULT_GATEWAY_SETTINGS[key];
    }
    return val;
  };
  return {
    upstreams,
    timeout_ms,
    max_body_bytes: integer("max_body_bytes", 1024 * 1024 * 1024),
    default_max_output_tokens: integer("default_max_output_tokens", 10_000_000),
    virtual_keys: checkVirtualKeys(v.virtual_keys, issues),
  };
}
