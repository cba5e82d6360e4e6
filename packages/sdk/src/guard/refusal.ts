import type { ClientFamily } from "../wrap/instrumented-fetch.js";

/** The error types a refused call carries, in the provider's error shape. */
export const REFUSAL_TYPES = {
  budget: "costtrail_budget_exceeded",
  run: "costtrail_agent_run_stopped",
  unavailable: "costtrail_guard_unavailable",
} as const;

/**
 * A refused call's answer, made in the app without reaching the provider: a 429 in the
 * provider's error shape, so the official client throws its own RateLimitError, with
 * `x-should-retry: false` so that it does not retry a refusal.
 */
export function refusalResponse(family: ClientFamily, type: string, message: string): Response {
  const body = family === "anthropic" ? { type: "error", error: { type, message } } : { error: { message, type, param: null, code: type } };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: { "content-type": "application/json", "x-should-retry": "false", "x-costtrail-refused": type },
  });
}

/** Whether an error a client threw is a Costtrail refusal (a budget, or a stopped agent run). */
export function isCosttrailRefusal(err: unknown): boolean {
  const e = err as { status?: number; error?: { type?: string; error?: { type?: string } } } | null;
  const type = e?.error?.type === "error" ? e.error.error?.type : e?.error?.type;
  return e?.status === 429 && typeof type === "string" && Object.values(REFUSAL_TYPES).includes(type as never);
}
