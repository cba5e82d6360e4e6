import { CosttrailError } from "@costtrail/core";
import { hashApiKey } from "@costtrail/server";
import type { Command } from "commander";
import { resolveClient } from "../client.js";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage API keys");
  keys
    .command("create")
    .description("create an API key on the server (shown once; only its hash is stored)")
    .requiredOption("--name <name>", "what the key is for")
    .option("--scopes <list>", "comma-separated: ingest, read, admin", "ingest")
    .option("--projects <list>", "comma-separated projects the key is limited to (default: all)")
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "an admin key")
    .option("--json", "print one JSON object")
    .action(async (o: { name: string; scopes: string; projects?: string; url?: string; apiKey?: string; json?: boolean }) => {
      const client = resolveClient({ ...(o.url && { url: o.url }), ...(o.apiKey && { apiKey: o.apiKey }) });
      const body = {
        name: o.name,
        scopes: o.scopes.split(",").map((s) => s.trim()),
        ...(o.projects && { projects: o.projects.split(",").map((s) => s.trim()) }),
      };
      const created = await client.json<{ id: string; key: string; scopes: string[]; projects: string[] | null }>("POST", "/v1/keys", body);
      if (o.json) process.stdout.write(`${JSON.stringify(created)}\n`);
      else
        process.stdout.write(
          `Created ${created.id} (${created.scopes.join(", ")}${created.projects ? `; projects ${created.projects.join(", ")}` : ""}).\nKey (shown once):\n  ${created.key}\n`,
        );
    });
  keys
    .command("hash <key>")
    .description("print the sha256 hash of a key, for api_keys[].hash in costtrail.yaml")
    .action((key: string) => {
      if (!/^ct_[0-9A-Za-z]{20,80}$/.test(key))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "<key>: must look like ct_ followed by 20 to 80 letters and digits", {
          path: ["key"],
        });
      process.stdout.write(`${hashApiKey(key)}\n`);
    });
}
