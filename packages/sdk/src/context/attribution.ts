import { AsyncLocalStorage } from "node:async_hooks";
import type { UsageEvent } from "@costtrail/core";
import type { AgentRun } from "./agent-run.js";

/** Who and what a call is for. Every field is optional; nested contexts merge, inner wins. */
export interface Attribution {
  readonly project?: string;
  readonly environment?: string;
  readonly userId?: string;
  readonly customerId?: string;
  readonly team?: string;
  readonly costCenter?: string;
  readonly feature?: string;
  readonly promptVersion?: string;
  readonly experiment?: string;
  readonly variant?: string;
  readonly traceId?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** What AsyncLocalStorage carries through the app's awaits. */
export interface CallScope {
  readonly attribution: Attribution;
  readonly run?: AgentRun;
}

const FIELD_NAMES = {
  project: "project",
  environment: "environment",
  userId: "user_id",
  customerId: "customer_id",
  team: "team",
  costCenter: "cost_center",
  feature: "feature",
  promptVersion: "prompt_version",
  experiment: "experiment_id",
  variant: "variant",
  traceId: "trace_id",
} as const satisfies Record<Exclude<keyof Attribution, "tags">, keyof UsageEvent>;

/** The wire columns an attribution sets. */
export type AttributionFields = Partial<Pick<UsageEvent, (typeof FIELD_NAMES)[keyof typeof FIELD_NAMES] | "tags">>;

const storage = new AsyncLocalStorage<CallScope>();

export function currentScope(): CallScope | undefined {
  return storage.getStore();
}

export function runInScope<T>(scope: CallScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** `inner` over `outer`: set fields replace, tags merge key by key. */
export function mergeAttribution(outer: Attribution, inner: Attribution): Attribution {
  const merged: Record<string, unknown> = { ...outer };
  for (const [k, v] of Object.entries(inner)) {
    if (v !== undefined && k !== "tags") merged[k] = v;
  }
  if (outer.tags || inner.tags) merged.tags = { ...outer.tags, ...inner.tags };
  return merged as Attribution;
}

/** The attribution in wire names, leaving out what is unset. */
export function attributionFields(a: Attribution): AttributionFields {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(FIELD_NAMES)) {
    const v = a[key as keyof typeof FIELD_NAMES];
    if (v !== undefined) out[column] = v;
  }
  if (a.tags && Object.keys(a.tags).length > 0) out.tags = { ...a.tags };
  return out as AttributionFields;
}
