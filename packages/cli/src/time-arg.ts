import { CosttrailError } from "@costtrail/core";

const RELATIVE = /^(\d+)(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `12h`, `30m`, `2w` before now, or an ISO-8601 date or time. */
export function parseTimeArg(value: string, flag: string, now = Date.now()): string {
  const m = RELATIVE.exec(value);
  if (m) return new Date(now - Number(m[1]) * (UNIT_MS[m[2] as string] as number)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(Date.parse(value)).toISOString();
  throw new CosttrailError(
    "CT_INVALID_ARGUMENT",
    `${flag}: must be a duration such as 7d, 12h, 30m or an ISO-8601 time, got ${JSON.stringify(value)}`,
    { path: [flag] },
  );
}

/** `--where key=value` (repeatable; `key=a|b` for several values) into query filters. */
export function parseWhere(values: readonly string[]): Array<{ column: string; op: "eq" | "in"; value: string | string[] }> {
  return values.map((w) => {
    const i = w.indexOf("=");
    if (i <= 0)
      throw new CosttrailError("CT_INVALID_ARGUMENT", `--where: must be key=value, got ${JSON.stringify(w)}`, { path: ["--where"] });
    const column = w.slice(0, i);
    const v = w.slice(i + 1);
    return v.includes("|") ? { column, op: "in" as const, value: v.split("|") } : { column, op: "eq" as const, value: v };
  });
}
