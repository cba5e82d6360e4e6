import { createWriteStream, rmSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CosttrailError } from "@costtrail/core";
import type { Command } from "commander";
import { resolveClient } from "../client.js";
import { progressBar } from "../progress.js";
import { parseTimeArg, parseWhere } from "../time-arg.js";

interface ExportFlags {
  format: string;
  out: string;
  since: string;
  until?: string;
  where: string[];
  url?: string;
  apiKey?: string;
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("export raw events as CSV, NDJSON or Parquet")
    .option("--format <format>", "csv, ndjson or parquet", "ndjson")
    .requiredOption("--out <file>", "file to write")
    .option("--since <time>", "start: 7d, 24h, or an ISO time", "30d")
    .option("--until <time>", "end (default now)")
    .option("--where <key=value>", "filter, repeatable", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--url <url>", "server URL")
    .option("--api-key <key>", "a read key")
    .action(async (flags: ExportFlags) => {
      if (!["csv", "ndjson", "parquet"].includes(flags.format))
        throw new CosttrailError("CT_INVALID_ARGUMENT", "--format: must be csv, ndjson or parquet", { path: ["--format"] });
      const params = new URLSearchParams({ format: flags.format, from: parseTimeArg(flags.since, "--since") });
      if (flags.until) params.set("to", parseTimeArg(flags.until, "--until"));
      for (const f of parseWhere(flags.where)) {
        for (const v of Array.isArray(f.value) ? f.value : [f.value]) params.append(f.column, v);
      }
      const client = resolveClient({ ...(flags.url && { url: flags.url }), ...(flags.apiKey && { apiKey: flags.apiKey }) });
      const res = await client.request("GET", `/v1/export?${params}`);
      const rows = Number(res.headers.get("x-costtrail-rows") ?? 0);
      const total = Number(res.headers.get("content-length") ?? 0);
      const bar = progressBar("export", total || 1, "bytes");
      let written = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          bar.update(written);
          done(null, chunk);
        },
      });
      // Written beside the target and renamed once complete: a failed export leaves nothing behind.
      const part = `${flags.out}.part-${process.pid}`;
      // Interrupted (Ctrl-C, a kill, the terminal closed), the part file goes too.
      const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
      const interrupted = (signal: NodeJS.Signals) => {
        rmSync(part, { force: true });
        process.exit(SIGNAL_EXIT[signal] ?? 1);
      };
      for (const signal of Object.keys(SIGNAL_EXIT)) process.once(signal, interrupted);
      try {
        await pipeline(Readable.fromWeb(res.body as never), counter, createWriteStream(part, { mode: 0o600 }));
        if (total > 0 && written !== total)
          throw new CosttrailError("CT_INVALID_BODY", `the export stopped after ${written} of ${total} bytes`, { path: ["--out"] });
        await rename(part, flags.out);
      } catch (e) {
        await rm(part, { force: true });
        throw e;
      } finally {
        for (const signal of Object.keys(SIGNAL_EXIT)) process.off(signal, interrupted);
        bar.stop();
      }
      process.stdout.write(`export: ${rows} events, ${written} bytes → ${flags.out}\n`);
    });
}
