import { Command } from "commander";
import { registerAlerts, registerBudgets } from "./commands/budgets.js";
import { registerDemo } from "./commands/demo.js";
import { registerExport } from "./commands/export.js";
import { registerKeys } from "./commands/keys.js";
import { registerPrice } from "./commands/price.js";
import { registerPrices } from "./commands/prices.js";
import { registerReport } from "./commands/report.js";
import { registerReprice } from "./commands/reprice.js";
import { registerServe } from "./commands/serve.js";

export function buildProgram(): Command {
  const program = new Command("costtrail")
    .description("Costtrail: a self-hosted LLM cost ledger")
    .version("0.1.0")
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerServe(program);
  registerDemo(program);
  registerReport(program);
  registerExport(program);
  registerKeys(program);
  registerPrice(program);
  registerPrices(program);
  registerReprice(program);
  registerBudgets(program);
  registerAlerts(program);
  return program;
}

/** Runs the CLI; returns the exit code. Coded errors print their message (and every issue) on stderr. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === "string" && e.code.startsWith("commander.")) {
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" ? 0 : (e.exitCode ?? 2) || 2;
    }
    if (typeof e.code === "string" && e.code.startsWith("CT_")) {
      process.stderr.write(`error ${e.code}:\n${e.message}\n`);
      return 2;
    }
    throw err;
  }
}
