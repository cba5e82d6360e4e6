import { exec } from "node:child_process";
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "./server-process.js";

const run = promisify(exec);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI_BIN = fileURLToPath(new URL("../bin/costtrail.js", import.meta.url));

interface Example {
  /** The command as the README writes it, continuation lines included. */
  readonly command: string;
  /** The output the README shows under it (its `# …` lines), or null when it shows none. */
  readonly output: string | null;
}

/** The shell examples of the README, in order; the first block (set-up commands) is run by CI itself. */
function shellExamples(readme: string): Example[] {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const examples: Example[] = [];
  for (const block of blocks.slice(1)) {
    const lines = block.split("\n");
    let i = 0;
    while (i < lines.length) {
      let line = lines[i] as string;
      if (line.trim() === "" || line.startsWith("#")) {
        i++;
        continue;
      }
      // A command runs on while a line ends in a backslash or a single quote is still open.
      let command = line;
      while ((line.endsWith("\\") || (command.split("'").length - 1) % 2 === 1) && i + 1 < lines.length) {
        line = lines[++i] as string;
        command += `\n${line}`;
      }
      i++;
      const shown: string[] = [];
      while (i < lines.length && (lines[i] as string).startsWith("# ")) shown.push((lines[i++] as string).slice(2));
      examples.push({ command, output: shown.length > 0 ? shown.join("\n") : null });
    }
  }
  return examples;
}

let server: ServerProcess;
let cwd: string;

beforeAll(async () => {
  // A directory like a user's: a package.json, `npx costtrail` resolving to this build, a local server.
  cwd = await mkdtemp(join(tmpdir(), "ct-readme-"));
  await writeFile(join(cwd, "package.json"), '{ "name": "readme-run", "private": true }\n');
  await mkdir(join(cwd, "node_modules", ".bin"), { recursive: true });
  await symlink(CLI_BIN, join(cwd, "node_modules", ".bin", "costtrail"));
  server = await startServerProcess(join(cwd, ".costtrail"), {}, ["--demo", "--demo-events", "3000"]);
  const deadline = Date.now() + 30_000;
  while (!/Demo data loaded/.test(server.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(server.stderr()).toMatch(/Demo data loaded/);
}, 60_000);

afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.exited;
});

describe("the README's examples", () => {
  it("finds the examples it is to run", async () => {
    const examples = shellExamples(await readFile(join(ROOT, "README.md"), "utf8"));
    expect(examples.length).toBeGreaterThan(10);
    expect(examples.filter((e) => e.output !== null).length).toBeGreaterThanOrEqual(4);
  });

  it("run as written and print what the README shows", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const failures: string[] = [];
    for (const example of shellExamples(readme)) {
      // The one liberty: the server listens on a free port, not the default 4680.
      const command = example.command.replaceAll("http://127.0.0.1:4680", server.url);
      const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, COSTTRAIL_URL: server.url };
      let stdout = "";
      try {
        stdout = (await run(command, { cwd, env, shell: "/bin/bash", timeout: 30_000 })).stdout;
      } catch (e) {
        failures.push(`${example.command}\n  failed: ${(e as Error).message.slice(0, 400)}`);
        continue;
      }
      if (example.output === null) continue;
      const shown = example.output;
      if (shown.startsWith("{") || shown.startsWith("[")) {
        try {
          expect(JSON.parse(stdout)).toEqual(JSON.parse(shown));
        } catch (e) {
          failures.push(
            `${example.command}\n  printed: ${stdout.slice(0, 600)}\n  README shows: ${shown.slice(0, 600)}\n  ${(e as Error).message.slice(0, 200)}`,
          );
        }
      } else if (!stdout.includes(shown)) failures.push(`${example.command}\n  printed: ${stdout.slice(0, 600)}\n  README shows: ${shown}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
