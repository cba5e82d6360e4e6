import { existsSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";
import { type ServerProcess, startServerProcess } from "../../cli/test/server-process.js";

/** Debian's Chromium; `.ci/run` installs it. */
export const CHROMIUM = "/usr/bin/chromium";
/** Without it, browser tests are skipped, unless COSTTRAIL_REQUIRE_BROWSER=1 (CI) makes them fail instead. */
export const HAVE_BROWSER = existsSync(CHROMIUM) || process.env.COSTTRAIL_REQUIRE_BROWSER === "1";

/** Where each run leaves its screenshots: a test artifact, not part of the tree. */
export const SCREENSHOTS = fileURLToPath(new URL("../test-results/screenshots/", import.meta.url));

export async function launch(): Promise<Browser> {
  // A closed network: background fetches to the browser maker's hosts would only fail, many at a time.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface Dashboard extends ServerProcess {
  /** The start banner's one-time sign-in link. */
  readonly link: string;
  readonly adminKey: string;
  stop(): Promise<void>;
}

/** `costtrail serve` as a user starts it: a real process, with the demo's month when `demoEvents` > 0. */
export async function startDashboard(demoEvents: number): Promise<Dashboard> {
  const dir = join(await mkdtemp(join(tmpdir(), "ct-web-")), "data");
  const server = await startServerProcess(dir, {}, demoEvents > 0 ? ["--demo", "--demo-events", String(demoEvents)] : []);
  const deadline = Date.now() + 60_000;
  let banner: RegExpExecArray | null = null;
  while (
    !(banner = /\n {2}(ct_\w+)\n[\s\S]*\n {2}(http:\/\/127\.0\.0\.1:\d+\/#sign-in=[\w-]+)\n/.exec(server.stderr())) &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 50));
  if (!banner) throw new Error(`no sign-in link in the banner: ${server.stderr()}`);
  return {
    ...server,
    adminKey: banner[1] as string,
    link: banner[2] as string,
    async stop() {
      if (server.child.exitCode === null) server.child.kill("SIGTERM");
      await server.exited;
    },
  };
}

/** A page that records what a user would not see: console errors and uncaught exceptions. */
export async function openPage(
  browser: Browser,
  opts: { colorScheme?: "light" | "dark"; width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 },
    colorScheme: opts.colorScheme ?? "light",
    locale: "en-US",
    timezoneId: "UTC",
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs a page in through the sign-in form with the server's admin key, as a returning user would. */
export async function signIn(page: Page, server: Dashboard): Promise<void> {
  await page.goto(`${server.url}/sign-in`);
  await page.getByLabel("API key").fill(server.adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("who").waitFor();
}
