import { readFile } from "node:fs/promises";
import { CosttrailError, type Issue, type IssuePath, type PricingConfig, formatIssue, validatePricingConfig } from "@costtrail/core";
import { LineCounter, parseDocument } from "yaml";

/** costtrail.yaml, checked and frozen. A reload builds a new object; nothing mutates this one. */
export interface CosttrailConfig {
  readonly pricing: PricingConfig;
}

const TOP_LEVEL_KEYS = ["version", "pricing"] as const;

/** An issue located in the file: `costtrail.yaml:12:7 pricing.models[0].rates.input_mtok: must be …`. */
export interface ConfigIssue extends Issue {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}:${i.column}`;
  return `${where} ${formatIssue(i)}`;
}

function checkConfig(value: unknown): { config: CosttrailConfig | null; issues: Issue[] } {
  if (value === null || value === undefined) return { config: Object.freeze({ pricing: {} }), issues: [] };
  if (typeof value !== "object" || Array.isArray(value)) {
    return { config: null, issues: [{ code: "invalid_type", path: [], message: "must be a mapping of settings" }] };
  }
  const v = value as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const k of Object.keys(v)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) {
      issues.push({ code: "unknown_field", path: [k], message: `is not a known section; expected one of ${TOP_LEVEL_KEYS.join(", ")}` });
    }
  }
  if (v.version !== undefined && v.version !== 1) {
    issues.push({ code: "invalid_value", path: ["version"], message: `must be 1, got ${JSON.stringify(v.version)}` });
  }
  const pricing = validatePricingConfig(v.pricing, ["pricing"]);
  if (!pricing.ok) issues.push(...pricing.issues);
  if (issues.length > 0 || !pricing.ok) return { config: null, issues };
  return { config: deepFreeze({ pricing: pricing.value }), issues: [] };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Parses and checks config text (YAML, of which JSON is a subset). Throws CT_INVALID_CONFIG listing every issue. */
export function parseConfig(text: string, file: string): CosttrailConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { code: "invalid_format", path: [], message: e.message.split("\n")[0] ?? e.message, file, line: pos.line, column: pos.col };
    });
    throw configError(issues);
  }
  const { config, issues } = checkConfig(doc.toJS());
  if (config) return config;
  const located: ConfigIssue[] = issues.map((i) => {
    const node = nodeAt(doc, i.path);
    const range = node?.range;
    if (!range) return { ...i, file };
    const pos = lineCounter.linePos(range[0]);
    return { ...i, file, line: pos.line, column: pos.col };
  });
  throw configError(located);
}

function nodeAt(doc: ReturnType<typeof parseDocument>, path: IssuePath): { range?: [number, number, number] | null } | undefined {
  // The deepest node that exists along the path: a missing field points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] | null } | undefined;
    if (node && typeof node === "object" && "range" in node) return node;
  }
  return undefined;
}

function configError(issues: ConfigIssue[]): CosttrailError {
  return new CosttrailError("CT_INVALID_CONFIG", issues.map(formatConfigIssue).join("\n"), { issues });
}

export async function loadConfig(file: string): Promise<CosttrailConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (cause as Error).message;
    throw new CosttrailError("CT_INVALID_CONFIG", `${file}: ${reason}`, {
      cause,
      issues: [{ code: "required", path: [], message: reason }],
    });
  }
  return parseConfig(text, file);
}
