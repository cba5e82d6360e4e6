import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, HAVE_BROWSER, launch, openPage, screenshot, signIn, startDashboard } from "./browser.js";

/** Every page of the navigation, with what shows it has loaded its data. */
const PAGES = [
  { name: "overview", link: "Overview", ready: "[data-chart] canvas" },
  { name: "explorer", link: "Explorer", ready: "[data-testid=explorer-table] tbody tr" },
  { name: "runs", link: "Agent runs", ready: "[data-testid=runs-top] tbody tr" },
  { name: "events", link: "Events", ready: "[data-testid=events-table] tbody tr" },
  { name: "budgets", link: "Budgets", ready: "[data-chart=burn-down]" },
  { name: "alerts", link: "Alerts", ready: "[data-section=alert-list] li" },
  { name: "prices", link: "Prices", ready: "[data-section=models-in-use] tbody tr" },
] as const;

describe.runIf(HAVE_BROWSER)("every page of the dashboard", () => {
  let server: Dashboard;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboard(10_000), launch()]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const scheme of ["light", "dark"] as const)
    it(`loads from the navigation without a console error or an error panel, in ${scheme}, with a screenshot of each`, async () => {
      const { page, errors, context } = await openPage(browser, { colorScheme: scheme });
      await signIn(page, server);
      for (const p of PAGES) {
        await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: p.link, exact: true }).click();
        await page.locator(p.ready).first().waitFor();
        expect(await page.getByRole("navigation", { name: "Pages" }).locator("[aria-current=page]").innerText()).toBe(p.link);
        expect(await page.locator("[data-state=error]").count(), p.name).toBe(0);
        expect(await page.evaluate(() => document.documentElement.scrollWidth), p.name).toBeLessThanOrEqual(1440);
        await screenshot(page, `${p.name}-${scheme}`);
      }
      expect(errors).toEqual([]);
      await context.close();
    }, 90_000);

  it("says so, in the page, for a path that is no page", async () => {
    const { page, context } = await openPage(browser);
    await signIn(page, server);
    await page.goto(`${server.url}/runs/no-such-run`);
    await expect.poll(() => page.locator("[data-state=empty]").innerText()).toContain("No calls of the run no-such-run");
    await context.close();
  }, 60_000);
});
