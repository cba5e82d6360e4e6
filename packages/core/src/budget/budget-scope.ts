import type { Budget } from "./budget.js";

/** What a call is attributed to: its columns (and provider and model) and its tags. */
export interface BudgetSubject {
  readonly columns: Readonly<Record<string, string | null | undefined>>;
  readonly tags: Readonly<Record<string, string>>;
}

function attributedValue(subject: BudgetSubject, key: string): string | undefined {
  const v = key.startsWith("tag.") ? subject.tags[key.slice(4)] : subject.columns[key];
  return v === null || v === undefined ? undefined : v;
}

/**
 * The budget scope a call falls in: "" for a budget with one scope, the value for an
 * "each value of" budget, or null when the call is outside the budget.
 */
export function budgetScope(b: Pick<Budget, "match" | "each_value_of">, subject: BudgetSubject): string | null {
  for (const key in b.match) {
    const v = attributedValue(subject, key);
    if (v === undefined || !(b.match[key] as readonly string[]).includes(v)) return null;
  }
  if (b.each_value_of === null) return "";
  return attributedValue(subject, b.each_value_of) ?? null;
}
