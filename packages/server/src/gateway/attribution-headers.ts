import { LIMITS, type UsageEvent } from "@costtrail/core";

/** A request header the gateway refuses, named so the client can fix it. */
export class HeaderError extends Error {
  constructor(
    readonly header: string,
    message: string,
  ) {
    super(`${header}: ${message}`);
  }
}

/** `x-costtrail-<name>` → the event's column. */
const COLUMNS = {
  project: "project",
  environment: "environment",
  user: "user_id",
  customer: "customer_id",
  team: "team",
  "cost-center": "cost_center",
  feature: "feature",
  "agent-run": "agent_run_id",
  "trace-id": "trace_id",
  "prompt-version": "prompt_version",
  experiment: "experiment_id",
  variant: "variant",
} as const satisfies Record<string, keyof UsageEvent>;

export type HeaderAttribution = Partial<Record<(typeof COLUMNS)[keyof typeof COLUMNS], string>> & { tags?: Record<string, string> };

const TAG_KEY = /^[A-Za-z_][\w.-]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkValue(header: string, value: string, max: number): string {
  if (value === "") throw new HeaderError(header, "must not be empty");
  if (value.length > max) throw new HeaderError(header, `must be at most ${max} characters, got ${value.length}`);
  if (CONTROL.test(value)) throw new HeaderError(header, "must not contain control characters");
  return value;
}

function single(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) throw new HeaderError(name, "must be sent once");
  return v;
}

/**
 * Attribution from `x-costtrail-*` headers: one header per column, and `x-costtrail-tags` as
 * `key=value` pairs separated by commas (values percent-encoded where they hold `,` or `=`).
 */
export function attributionFromHeaders(headers: Record<string, string | string[] | undefined>): HeaderAttribution {
  const out: Record<string, unknown> = {};
  for (const [suffix, column] of Object.entries(COLUMNS)) {
    const name = `x-costtrail-${suffix}`;
    const v = single(headers, name);
    if (v !== undefined) out[column] = checkValue(name, v.trim(), LIMITS.attributionChars);
  }
  const tags = single(headers, "x-costtrail-tags");
  if (tags !== undefined) {
    const map: Record<string, string> = {};
    for (const pair of tags.split(",")) {
      if (pair.trim() === "") continue;
      const eq = pair.indexOf("=");
      if (eq < 0)
        throw new HeaderError("x-costtrail-tags", `expected key=value pairs separated by commas, got ${JSON.stringify(pair.trim())}`);
      const key = pair.slice(0, eq).trim();
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(eq + 1).trim());
      } catch {
        throw new HeaderError("x-costtrail-tags", `the value of ${key} is not valid percent-encoding`);
      }
      if (!TAG_KEY.test(key) || key.length > LIMITS.tagKeyChars)
        throw new HeaderError(
          "x-costtrail-tags",
          `tag key ${JSON.stringify(key)} must be letters, digits, '_', '-' or '.', starting with a letter or '_', at most ${LIMITS.tagKeyChars} characters`,
        );
      map[key] = checkValue("x-costtrail-tags", value, LIMITS.tagValueChars);
    }
    if (Object.keys(map).length > LIMITS.tagKeys) throw new HeaderError("x-costtrail-tags", `at most ${LIMITS.tagKeys} tags`);
    if (Object.keys(map).length > 0) out.tags = map;
  }
  return out as HeaderAttribution;
}
