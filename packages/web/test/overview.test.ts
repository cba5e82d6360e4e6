import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, HAVE_BROWSER, launch, openPage, screenshot, startDashboard } from "./browser.js";

const MONEY = /^\$\d{1,3}(,\d{3})*\.\d{2}$/;

describe.runIf(HAVE_BROWSER)("the overview, on a month of demo spend", () => {
  let server: Dashboard;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboard(20_000), launch()]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("opens from the banner's link, drops the token from the address bar, and shows the month as the API reports it", async () => {
    const { page, errors, context } = await openPage(browser);
    const started = Date.now();
    await page.goto(server.link);
    await page.locator("[data-chart] canvas").waitFor();
    await page.locator("[data-stat=month] .stat-value span").waitFor();
    console.log(`overview, first meaningful paint (stats and chart) on 20,000 demo events: ${Date.now() - started} ms`);
    expect(new URL(page.url()).hash).toBe("");
    expect(await page.evaluate(() => location.href)).not.toContain("sign-in=");
    await expect.poll(() => page.getByTestId("who").innerText()).toContain("bootstrap admin");

    // The headline numbers are the API's, formatted: the page and GET /v1/spend/summary agree to the cent.
    const summary = (await (await context.request.get(`${server.url}/v1/spend/summary?time_zone=UTC`)).json()) as {
      month: { cost_usd: string };
      forecast: { month_end_usd: string } | null;
    };
    const month = page.locator("[data-stat=month] .stat-value span");
    expect(await month.innerText()).toMatch(MONEY);
    expect(await month.getAttribute("data-exact")).toBe(summary.month.cost_usd);
    // The exact amount on hover: every digit the ledger holds.
    const exact = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency: "USD",
      minimumFractionDigits: 2,
      maximumFractionDigits: 20,
    });
    expect(await month.getAttribute("title")).toBe(exact.format(summary.month.cost_usd as never));
    expect(summary.forecast).not.toBeNull();
    expect(await page.locator("[data-stat=forecast] .stat-value span").getAttribute("data-exact")).toBe(summary.forecast?.month_end_usd);

    // The chart has bars for the month, stacked by model; every panel has content, none an error.
    const chart = page.locator("[data-chart]");
    expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThan(30);
    expect(await chart.getAttribute("data-series")).toContain("claude-sonnet-4-5-20250929");
    for (const dim of ["feature", "customer_id", "user_id", "model"])
      expect(await page.locator(`[data-top=${dim}] tr`).count(), dim).toBeGreaterThanOrEqual(3);
    expect(await page.locator("[data-section=budgets] li").count()).toBeGreaterThanOrEqual(3);
    await page.locator("[data-section=alerts] li, [data-section=alerts] [data-state=empty]").first().waitFor();
    expect(await page.locator("[data-state=error]").count()).toBe(0);
    await screenshot(page, "overview");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("restacks the chart by feature, keeps the choice in the URL, and drills down from a bar and from a top list's row to the events", async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel("API key").fill(server.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-chart] canvas").waitFor();
    await page.getByRole("button", { name: "Feature", exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("stack")).toBe("feature");
    await expect.poll(() => page.locator("[data-chart]").getAttribute("data-series")).toContain("code-review-agent");
    expect(await page.getByRole("button", { name: "Feature", exact: true }).getAttribute("aria-pressed")).toBe("true");
    // The URL alone brings the same view back.
    await page.reload();
    await expect.poll(() => page.locator("[data-chart]").getAttribute("data-series")).toContain("code-review-agent");

    // A bar drills down to its day's events, of the feature it stands for.
    const box = (await page.locator("[data-chart] canvas").boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.mouse.click(box.x + box.width * 0.6, box.y + box.height * 0.5);
    await expect.poll(() => new URL(page.url()).pathname).toBe("/events");
    const bar = new URL(page.url());
    expect(Date.parse(bar.searchParams.get("to") as string) - Date.parse(bar.searchParams.get("from") as string)).toBe(86_400_000);
    expect(bar.searchParams.get("feature")).not.toBeNull();

    // A top list's row drills down to its events.
    await page.goto(server.url);
    await page.locator("[data-chart] canvas").waitFor();
    const row = page.locator("[data-top=feature] tr").filter({ hasText: "draft-reply" });
    await row.click();
    await expect.poll(() => new URL(page.url()).searchParams.get("feature"), { timeout: 10_000 }).toBe("draft-reply");
    await page.locator("[data-testid=events-table] tbody tr").first().waitFor();
    expect(new Set(await page.locator("[data-testid=events-table] tbody tr td:nth-child(2)").allInnerTexts())).toEqual(
      new Set(["draft-reply"]),
    );
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("in dark, and on a laptop screen, every panel stays inside the page", async () => {
    const { page, errors, context } = await openPage(browser, { colorScheme: "dark", width: 1280, height: 800 });
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel("API key").fill(server.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-chart] canvas").waitFor();
    await page.locator("[data-top=model] tr").first().waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await screenshot(page, "overview-dark-laptop");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("a project-limited key sees its project only; a wrong key and an ended session each say what happened", async () => {
    const created = await fetch(`${server.url}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "dev-tools reader", scopes: ["read"], projects: ["dev-tools"] }),
    });
    const key = (await created.json()) as { id: string; key: string };
    const theirs = (await (
      await fetch(`${server.url}/v1/spend/summary?time_zone=UTC`, { headers: { authorization: `Bearer ${key.key}` } })
    ).json()) as { month: { cost_usd: string } };
    const everyone = (await (
      await fetch(`${server.url}/v1/spend/summary?time_zone=UTC`, { headers: { authorization: `Bearer ${server.adminKey}` } })
    ).json()) as { month: { cost_usd: string } };
    expect(Number(theirs.month.cost_usd)).toBeLessThan(Number(everyone.month.cost_usd));

    const { page, errors, context } = await openPage(browser);
    await page.goto(server.url);
    await page.getByLabel("API key").fill("ct_thisisnotakeythisisnotakey0123456789");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").innerText()).toContain("The API key is not known, or was revoked");
    await screenshot(page, "sign-in-wrong-key");
    await page.getByLabel("API key").fill(key.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("who").innerText()).toContain("Projects: dev-tools");
    await expect.poll(() => page.locator("[data-stat=month] .stat-value span").getAttribute("data-exact")).toBe(theirs.month.cost_usd);
    await page.locator("[data-top=feature] tr").first().waitFor();
    const features = await page.locator("[data-top=feature] tr").allInnerTexts();
    expect(features.join("\n")).not.toMatch(/support-chat|draft-reply/);
    await screenshot(page, "overview-project-key");

    // The key is revoked while the page is open: the next request lands on the sign-in page, saying why.
    const revoked = await fetch(`${server.url}/v1/keys/${key.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(revoked.status).toBe(200);
    await page.getByRole("button", { name: "Team", exact: true }).click();
    await expect.poll(() => page.getByTestId("signin-message").innerText()).toMatch(/signed out: The dashboard session has ended/);
    expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
    await context.close();
  }, 60_000);

  it("signing out ends the session: reloading stays signed out", async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel("API key").fill(server.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.getByTestId("signin-message").innerText()).toBe("You signed out.");
    await page.reload();
    await page.getByLabel("API key").waitFor();
    expect((await context.cookies()).filter((c) => c.name === "costtrail_session")).toEqual([]);
    await screenshot(page, "sign-in");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});

describe.runIf(HAVE_BROWSER)("the overview, on an empty ledger", () => {
  let server: Dashboard;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboard(0), launch()]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("says there is nothing yet in every panel, and says so again, not a blank page, when the server goes away", async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(server.link);
    await expect.poll(() => page.locator("[data-state=empty]").count()).toBeGreaterThanOrEqual(6);
    expect(await page.getByText("No spend in the last 30 days").count()).toBe(1);
    expect(await page.locator("[data-stat=forecast]").innerText()).toContain("Needs one complete day of spend");
    expect(await page.locator("[data-stat=month] .stat-value span").innerText()).toBe("$0.00");
    await screenshot(page, "overview-empty");
    expect(errors).toEqual([]);
    await server.stop();
    await page.getByRole("button", { name: "Provider", exact: true }).click();
    await expect.poll(() => page.locator("[data-state=error]").first().innerText(), { timeout: 20_000 }).toContain("cannot be reached");
    await screenshot(page, "overview-server-gone");
    await context.close();
  }, 60_000);
});
