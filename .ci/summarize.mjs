// Reads vitest's JSON reports, one per runtime, and prints one line per runtime followed by the
// one closing line CI reads: "N passed, N failed" summed over all runs.
// Usage: node summarize.mjs <label> <exit-status> <report.json> [<label> <exit-status> <report.json> ...]
// A run counts one extra failure when its report is missing or empty, or when it exited non-zero
// although no test failed (a build, lint or install error, or an unhandled error), so the closing
// line never says "0 failed" for a run that did not pass.
import { existsSync, readFileSync } from "node:fs";

// Each failed test as "file > title: the first line of its message", so the few lines CI keeps
// of its output name what failed.
function failures(r) {
  const out = [];
  for (const s of r.testResults ?? []) {
    const file = String(s.name ?? "").replace(/^.*?\/packages\//, "packages/");
    const failed = (s.assertionResults ?? []).filter((a) => a.status === "failed");
    if (s.status === "failed" && failed.length === 0) out.push(`${file}: ${firstLine(s.message)}`);
    for (const a of failed) out.push(`${file} > ${a.fullName ?? a.title}: ${firstLine(a.failureMessages?.[0])}`);
  }
  return out;
}

const firstLine = (text) =>
  String(text ?? "")
    .split("\n")
    .find((l) => l.trim() !== "")
    ?.trim()
    .slice(0, 300) ?? "";

function countRun(status, file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0, failures: [] };
  const r = JSON.parse(readFileSync(file, "utf8"));
  const failedSuites = (r.testResults ?? []).filter((s) => s.status === "failed" && (s.assertionResults ?? []).length === 0).length;
  const passed = r.numPassedTests ?? 0;
  let failed = (r.numFailedTests ?? 0) + failedSuites;
  if (failed === 0 && (passed === 0 || status !== 0)) failed = 1;
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  return { passed, failed, skipped, failures: failures(r) };
}

const line = ({ passed, failed, skipped }) => `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 3 !== 0) {
  console.error("usage: summarize.mjs <label> <exit-status> <report.json> [...]");
  console.log("0 passed, 1 failed");
  process.exit(1);
}
const total = { passed: 0, failed: 0, skipped: 0 };
for (let i = 0; i < args.length; i += 3) {
  const run = countRun(Number(args[i + 1]), args[i + 2]);
  for (const f of run.failures) console.log(`${args[i]} failed: ${f}`);
  console.log(`${args[i]}: ${line(run)}`);
  total.passed += run.passed;
  total.failed += run.failed;
  total.skipped += run.skipped;
}
console.log(line(total));
process.exit(total.failed > 0 ? 1 : 0);
