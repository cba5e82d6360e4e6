import type { FastifyRequest } from "fastify";
import { type ApiKeyRecord, type KeyRing, hasScope, hashApiKey } from "../auth/api-keys.js";
import type { GatewaySettings, VirtualKey } from "../config/gateway-config.js";
import { type HeaderAttribution, HeaderError, attributionFromHeaders } from "./attribution-headers.js";
import type { Caller } from "./call-recorder.js";
import type { Dialect } from "./dialects.js";

/** A gateway error, answered in the provider's error shape. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const virtualKeyMaps = new WeakMap<GatewaySettings, Map<string, VirtualKey>>();

function virtualKeyFor(settings: GatewaySettings, presented: string): VirtualKey | undefined {
  let map = virtualKeyMaps.get(settings);
  if (!map) {
    map = new Map(settings.virtual_keys.map((k) => [k.hash, k]));
    virtualKeyMaps.set(settings, map);
  }
  return map.get(hashApiKey(presented));
}

/**
 * The OpenAI- and Anthropic-compatible gateway: an app changes only its base URL, and every
 * call is attributed, checked before it is sent, passed through as it streams, and recorded.
 * Each provider's routes live in their own encapsulated context, with an error handler that
 * answers in that provider's error shape and a body parser that keeps the request's bytes.
 */
/**
 * Who is calling: an ingest key in `x-costtrail-key` (the provider key passes through), or a
 * virtual key in the provider key's place (swapped for the real one from the environment); and
 * the attribution of the `x-costtrail-*` headers over the virtual key's defaults.
 */
export function authenticate(
  opts: { readonly config: () => { readonly gateway: GatewaySettings }; readonly keys: KeyRing; readonly env?: NodeJS.ProcessEnv },
  dialect: Dialect,
  request: FastifyRequest,
): Caller {
  const settings = opts.config().gateway;
  let attribution: HeaderAttribution;
  try {
    attribution = attributionFromHeaders(request.headers);
  } catch (err) {
    if (err instanceof HeaderError) throw new GatewayError(400, `Invalid Costtrail header ${err.message}`, err.header);
    throw err;
  }
  const presented = request.headers["x-costtrail-key"];
  if (presented !== undefined) {
    const key: ApiKeyRecord | null = typeof presented === "string" ? opts.keys.find(presented) : null;
    if (!key) throw new GatewayError(401, "x-costtrail-key: the Costtrail key is not known, or was revoked");
    if (!hasScope(key, "ingest"))
      throw new GatewayError(403, `x-costtrail-key: the key ${JSON.stringify(key.name)} lacks the ingest scope`);
    opts.keys.recordUse(key.id);
    const project = attribution.project ?? (key.projects?.length === 1 ? key.projects[0] : undefined);
    if (key.projects && (project === undefined || !key.projects.includes(project)))
      throw new GatewayError(403, `x-costtrail-project: this key may only record into ${key.projects.join(", ")}`);
    return { keyId: key.id, attribution: { ...attribution, ...(project !== undefined && { project }) } };
  }
  const credential = dialect.credential(request.headers);
  const virtual = credential === undefined ? undefined : virtualKeyFor(settings, credential);
  if (!virtual || virtual.provider !== dialect.provider) {
    throw new GatewayError(
      401,
      "Costtrail needs a key: send x-costtrail-key with an ingest key (your provider key then passes through), or use a Costtrail virtual key as the provider key",
    );
  }
  const providerKey = (opts.env ?? process.env)[virtual.provider_key_env];
  if (!providerKey)
    throw new GatewayError(502, `The gateway has no ${dialect.provider} key: ${virtual.provider_key_env} is not set where it runs`);
  const defaults: HeaderAttribution = {
    ...(virtual.project !== undefined && { project: virtual.project }),
    ...(virtual.team !== undefined && { team: virtual.team }),
    ...(virtual.cost_center !== undefined && { cost_center: virtual.cost_center }),
    ...(virtual.environment !== undefined && { environment: virtual.environment }),
  };
  return { keyId: `virtual:${virtual.name}`, attribution: { ...defaults, ...attribution }, providerKey };
}
