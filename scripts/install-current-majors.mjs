// Installs the provider clients' current majors (openai 7, ai 7, @langchain/openai 1.x) into
// packages/sdk/test/current, where the SDK's tests for them live. Those packages need Node 22
// or later, so on Node 20 nothing is installed and their tests are skipped; the root install
// stays free of engine warnings there. Runs before `npm test`; reinstalls only when the lock
// file changed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../packages/sdk/test/current/", import.meta.url));
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.log(`Node ${process.versions.node}: the current majors need Node 22 or later; their SDK tests are skipped.`);
  process.exit(0);
}
const lock = readFileSync(`${dir}package-lock.json`);
const digest = createHash("sha256").update(lock).digest("hex");
const stamp = `${dir}node_modules/.costtrail-lock-sha256`;
if (existsSync(stamp) && readFileSync(stamp, "utf8") === digest) process.exit(0);
const npm = process.env.npm_execpath;
const [cmd, args] = npm ? [process.execPath, [npm]] : ["npm", []];
execFileSync(cmd, [...args, "ci", "--no-audit", "--no-fund", "--prefix", dir], { stdio: "inherit" });
writeFileSync(stamp, digest);
