/** How a rate-card model claims model names; the same logic the price-data package publishes. */
export type MatchLogic =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { or: readonly MatchLogic[] }
  | { and: readonly MatchLogic[] };

/** Compiles match logic once into a predicate over lower-cased names. */
export function compileMatch(logic: MatchLogic): (name: string) => boolean {
  if ("or" in logic) {
    const parts = logic.or.map(compileMatch);
    return (n) => parts.some((p) => p(n));
  }
  if ("and" in logic) {
    const parts = logic.and.map(compileMatch);
    return (n) => parts.every((p) => p(n));
  }
  if ("equals" in logic) {
    const v = logic.equals.toLowerCase();
    return (n) => n === v;
  }
  if ("starts_with" in logic) {
    const v = logic.starts_with.toLowerCase();
    return (n) => n.startsWith(v);
  }
  if ("ends_with" in logic) {
    const v = logic.ends_with.toLowerCase();
    return (n) => n.endsWith(v);
  }
  if ("contains" in logic) {
    const v = logic.contains.toLowerCase();
    return (n) => n.includes(v);
  }
  const re = new RegExp(logic.regex);
  return (n) => re.test(n);
}
