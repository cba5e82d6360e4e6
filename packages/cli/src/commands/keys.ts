import { CosttrailError } from "@costtrail/core";
import { ADMIN_KEY_RULE, MAX_GRACE_SECONDS, hasKeyForm, hashApiKey } from "@costtrail/server";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { formatTable } from "./report.js";

interface ServerFlags {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

interface KeyView {
  id: string;
  name: string;
  scopes: string[];
  projects: string[] | null;
  source: "config" | "store" | "bootstrap";
  created_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

function client(o: ServerFlags) {
  return resolveClient({ ...(o.url && { url: o.url }), ...(o.apiKey && { apiKey: o.apiKey }) });
}

function withServerFlags(command: Command): Command {
  return command.option("--url <url>", "server URL").option("--api-key <key>", "an admin key").option("--json", "print JSON");
}

/**
 * A comma-separated flag as a list. An empty or blank list, or an empty item, is refused: passed on,
 * `--projects ""` would create a key for every project, the opposite of what was asked.
 */
function parseList(value: string, flag: string): string[] {
  const items = value.split(",").map((s) => s.trim());
  if (items.some((s) => s === ""))
    throw new CosttrailError(
      "CT_INVALID_ARGUMENT",
      `${flag}: must be a comma-separated list of names, none empty; got ${JSON.stringify(value)}`,
      {
        path: [flag],
      },
    );
  return items;
}

/** `2026-11-20T10:00:05Z`: a listing needs the second, not the millisecond. */
function shortTime(iso: string | null): string | null {
  return iso === null ? null : iso.replace(/\.\d{3}Z$/, "Z");
}

const GRACE_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** `--grace` in seconds: a whole number of seconds, or of s, m, h or d, as costtrail.yaml writes durations. */
function parseGrace(value: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * (GRACE_UNITS[m[2] as string] as number) : Number.NaN;
  if (!(seconds <= MAX_GRACE_SECONDS))
    throw new CosttrailError(
      "CT_INVALID_ARGUMENT",
      `--grace: must be a duration of at most 7d (${MAX_GRACE_SECONDS} seconds), such as 3600, 90s, 30m or 1h; got ${JSON.stringify(value)}`,
      { path: ["--grace"] },
    );
  return seconds;
}

function describeKey(k: Pick<KeyView, "id" | "scopes" | "projects">): string {
  return `${k.id} (${k.scopes.join(", ")}${k.projects ? `; projects ${k.projects.join(", ")}` : ""})`;
}

function registerList(keys: Command): void {
  withServerFlags(keys.command("list").description("list API keys: source, scopes, projects, created, last used, revoked")).action(
    async (o: ServerFlags) => {
      const { keys: listed } = await client(o).json<{ keys: KeyView[] }>("GET", "/v1/keys");
      if (o.json) {
        process.stdout.write(`${JSON.stringify(listed)}\n`);
        return;
      }
      const now = Date.now();
      const rows = listed.map((k) => ({
        id: k.id,
        name: k.name,
        source: k.source,
        scopes: k.scopes.join(","),
        projects: k.projects === null ? "(all)" : k.projects.join(","),
        created: shortTime(k.created_at),
        last_used: shortTime(k.last_used_at),
        revoked: k.revoked_at === null ? null : `${shortTime(k.revoked_at)}${Date.parse(k.revoked_at) > now ? " (pending)" : ""}`,
      }));
      process.stdout.write(`${formatTable(rows, ["id", "name", "source", "scopes", "projects", "created", "last_used", "revoked"])}\n`);
    },
  );
}

function registerCreate(keys: Command): void {
  withServerFlags(
    keys
      .command("create")
      .description("create an API key on the server (shown once; only its hash is stored)")
      .requiredOption("--name <name>", "what the key is for")
      .option("--scopes <list>", "comma-separated: ingest, read, admin", "ingest")
      .option("--projects <list>", "comma-separated projects the key is limited to (default: all)"),
  ).action(async (o: ServerFlags & { name: string; scopes: string; projects?: string }) => {
    const body = {
      name: o.name,
      scopes: parseList(o.scopes, "--scopes"),
      ...(o.projects !== undefined && { projects: parseList(o.projects, "--projects") }),
    };
    const created = await client(o).json<KeyView & { key: string }>("POST", "/v1/keys", body);
    if (o.json) process.stdout.write(`${JSON.stringify(created)}\n`);
    else process.stdout.write(`Created ${describeKey(created)}.\nKey (shown once):\n  ${created.key}\n`);
  });
}

function registerRevoke(keys: Command): void {
  withServerFlags(keys.command("revoke <id>").description("revoke a key created on the server; it is refused from now on")).action(
    async (id: string, o: ServerFlags) => {
      const revoked = await client(o).json<KeyView>("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
      if (o.json) process.stdout.write(`${JSON.stringify(revoked)}\n`);
      else process.stdout.write(`Revoked ${revoked.id} (${revoked.name}); refused since ${revoked.revoked_at}.\n`);
    },
  );
}

function registerRotate(keys: Command): void {
  withServerFlags(
    keys
      .command("rotate <id>")
      .description("replace a key with a new one with the same name, scopes and projects (shown once)")
      .option("--grace <duration>", "how long the old key keeps working: seconds, or 90s, 30m, 1h, 7d (at most 7d)", "0"),
  ).action(async (id: string, o: ServerFlags & { grace: string }) => {
    const grace = parseGrace(o.grace);
    const rotated = await client(o).json<KeyView & { key: string; replaces: { id: string; revoked_at: string } }>(
      "POST",
      `/v1/keys/${encodeURIComponent(id)}/rotate`,
      { grace_seconds: grace },
    );
    if (o.json) {
      process.stdout.write(`${JSON.stringify(rotated)}\n`);
      return;
    }
    const stops = grace === 0 ? "now" : `at ${rotated.replaces.revoked_at} (in ${grace} s)`;
    process.stdout.write(
      `Created ${describeKey(rotated)} to replace ${rotated.replaces.id}.\nKey (shown once):\n  ${rotated.key}\nThe old key stops working ${stops}.\n`,
    );
  });
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage API keys");
  registerList(keys);
  registerCreate(keys);
  registerRevoke(keys);
  registerRotate(keys);
  keys
    .command("hash <key>")
    .description("print the sha256 hash of a key, for api_keys[].hash in costtrail.yaml")
    .action((key: string) => {
      if (!hasKeyForm(key))
        throw new CosttrailError("CT_INVALID_ARGUMENT", `<key>: must be a ct_ key or a secret of ${ADMIN_KEY_RULE}`, { path: ["key"] });
      process.stdout.write(`${hashApiKey(key)}\n`);
    });
}
