import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, HAVE_BROWSER, SCREENSHOTS, launch, openPage, screenshot, startDashboard } from "./browser.js";

async function signIn(page: Page, server: Dashboard): Promise<void> {
  await page.goto(`${server.url}/sign-in`);
  await page.getByLabel("API key").fill(server.adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("who").waitFor();
}

/** The table's rows as {group label → exact cost}, read from the cells' exact values. */
async function tableCosts(page: Page): Promise<Map<string, string>> {
  const rows = await page.locator("[data-testid=explorer-table] tbody tr").evaluateAll((trs) =>
    trs.map((tr) => {
      const cells = [...tr.querySelectorAll("td")];
      const money = tr.querySelector("[data-exact]")?.getAttribute("data-exact") ?? "";
      return { group: cells[0]?.textContent ?? "", cost: money };
    }),
  );
  return new Map(rows.map((r) => [r.group, r.cost]));
}

describe.runIf(HAVE_BROWSER)("the explorer, the events and the agent runs, on a month of demo spend", () => {
  let server: Dashboard;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboard(20_000), launch()]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("a group-by change updates the table and the URL, and the chart and the table agree to the cent", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    await page.getByRole("link", { name: "Explorer" }).click();
    await page.locator("[data-testid=explorer-table] tbody tr").first().waitFor();
    await page.getByRole("button", { name: "30 days" }).click();
    await page.getByLabel("Group by", { exact: true }).selectOption("model");
    await expect.poll(() => new URL(page.url()).searchParams.get("group_by")).toBe("model");
    expect(new URL(page.url()).searchParams.get("range")).toBe("30d");
    await expect.poll(() => page.locator("[data-testid=explorer-table] th").first().innerText()).toContain("Model");
    await expect.poll(async () => (await tableCosts(page)).has("claude-haiku-4-5")).toBe(true);

    const total = await page.locator("[data-testid=explorer-total] [data-exact]").first().getAttribute("data-exact");
    const costs = await tableCosts(page);
    const { default: Big } = await import("big.js");
    expect([...costs.values()].reduce((s, c) => s.plus(c || "0"), new Big(0)).toFixed()).toBe(new Big(total ?? "x").toFixed());
    // The chart sums the same events per day: its total is the table's.
    await expect.poll(() => page.locator("[data-chart]").getAttribute("data-total")).toBe(new Big(total ?? "x").toFixed());
    await screenshot(page, "explorer");

    // The view is in the URL: opened afresh from it, the same table.
    const shared = page.url();
    const other = await context.newPage();
    await other.goto(shared);
    await other.locator("[data-testid=explorer-table] tbody tr").first().waitFor();
    expect(await tableCosts(other)).toEqual(costs);
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("exports the view as CSV with the table's rows and exact amounts", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    await page.goto(`${server.url}/explore?range=30d&group_by=feature&environment=prod`);
    await page.locator("[data-testid=explorer-table] tbody tr").first().waitFor();
    expect(await page.getByTestId("filters").innerText()).toContain("Environment = prod");
    const costs = await tableCosts(page);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^costtrail-feature-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = await readFile((await download.path()) as string, "utf8");
    const [header, ...lines] = csv.trim().split("\r\n");
    expect(header).toBe("feature,cost_usd,requests,total_tokens,cost_per_request_usd,error_rate");
    const fromCsv = new Map(lines.map((l) => [l.split(",")[0] as string, l.split(",")[1] as string]));
    expect(fromCsv).toEqual(costs);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("drills down from a table row and from a chart bar to the events, and from an event row to every field and the raw usage", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    await page.goto(`${server.url}/explore?range=7d&group_by=feature`);
    await page.locator("[data-testid=explorer-table] tbody tr").first().waitFor();
    const row = page.locator("[data-testid=explorer-table] tbody tr").filter({ hasText: "draft-reply" });
    await row.click();
    await expect.poll(() => new URL(page.url()).pathname).toBe("/events");
    expect(new URL(page.url()).searchParams.get("feature")).toBe("draft-reply");
    await page.locator("[data-testid=events-table] tbody tr").first().waitFor();
    const features = await page.locator("[data-testid=events-table] tbody tr td:nth-child(2)").allInnerTexts();
    expect(features.length).toBe(50);
    expect(new Set(features)).toEqual(new Set(["draft-reply"]));
    await page.getByRole("button", { name: "Older" }).click();
    await expect.poll(() => page.getByText("Page 2 ·").count()).toBe(1);
    await screenshot(page, "events");

    const first = page.locator("[data-testid=events-table] tbody tr").first();
    const id = (await first.getAttribute("data-event")) as string;
    await first.click();
    await page.getByTestId("raw-usage").waitFor();
    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(`/events/${id}`);
    expect(await page.locator("[data-field=id]").innerText()).toBe(id);
    expect(await page.locator("[data-field=feature]").innerText()).toBe("draft-reply");
    const api = (await (await context.request.get(`${server.url}/v1/events/${encodeURIComponent(id)}`)).json()) as {
      raw_usage: unknown;
      cost_usd: string;
    };
    expect(JSON.parse(await page.getByTestId("raw-usage").innerText())).toEqual(api.raw_usage);
    expect(await page.locator("[data-field=cost_usd] [data-exact]").getAttribute("data-exact")).toBe(api.cost_usd);
    await screenshot(page, "event");

    // A bar of the chart: its day's events, of the feature it stands for.
    await page.goto(`${server.url}/explore?range=7d&group_by=feature`);
    const canvas = page.locator("[data-chart] canvas");
    await canvas.waitFor();
    const box = (await canvas.boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await expect.poll(() => new URL(page.url()).pathname).toBe("/events");
    const url = new URL(page.url());
    expect(Date.parse(url.searchParams.get("to") as string) - Date.parse(url.searchParams.get("from") as string)).toBeLessThanOrEqual(
      86_400_000,
    );
    expect(url.searchParams.get("feature")).not.toBeNull();
    await page.locator("[data-testid=events-table] tbody tr, [data-state=empty]").first().waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("agent runs: the spread of cost per run by feature, the costliest runs, and a run's timeline that adds up to its cost", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    await page.getByRole("link", { name: "Agent runs" }).click();
    await page.locator("[data-testid=runs-spread] tbody tr").first().waitFor();
    const spread = await page
      .locator("[data-testid=runs-spread] tbody tr")
      .first()
      .locator("[data-exact]")
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-exact"))));
    const [p50, p90, p99, max] = spread as [number, number, number, number];
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThan(max);
    expect(await page.locator("[data-chart=distribution]").getAttribute("data-series")).toBe("p50|p90|p99|max");
    await page.locator("[data-testid=runs-top] tbody tr").first().waitFor();
    await screenshot(page, "runs");

    const first = page.locator("[data-testid=runs-top] tbody tr").first();
    const runId = await first.locator("a").innerText();
    expect(runId).toBe("run_runaway_42");
    await first.locator("a").click();
    await page.getByTestId("run-timeline").waitFor();
    const api = (await (
      await context.request.post(`${server.url}/v1/query`, {
        headers: { "x-costtrail-csrf": "1" },
        data: {
          metrics: ["cost_usd", "requests"],
          filters: [{ column: "agent_run_id", op: "eq", value: runId }],
          from: "2020-01-01T00:00:00Z",
        },
      })
    ).json()) as { rows: Array<{ cost_usd: string; requests: number }> };
    const row = api.rows[0] as { cost_usd: string; requests: number };
    expect(row.requests).toBeGreaterThan(1000);
    await expect.poll(() => page.getByTestId("run-calls").innerText()).toBe(row.requests.toLocaleString("en-US"));
    expect(await page.locator("[data-testid=run-timeline] tbody tr").count()).toBe(row.requests);
    expect(await page.locator("[data-stat=run-cost] [data-exact]").getAttribute("data-exact")).toBe(row.cost_usd);
    expect(await page.locator("[data-chart=cumulative]").getAttribute("data-total")).toBe(row.cost_usd);
    await page.screenshot({ path: `${SCREENSHOTS}run.png` });
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("names a wrong event, and a query the server refuses, in the page", async () => {
    const { page, context } = await openPage(browser);
    await signIn(page, server);
    await page.goto(`${server.url}/events/no-such-event`);
    await expect.poll(() => page.locator("[data-state=error]").innerText()).toContain('No event "no-such-event"');
    // A range that ends before it starts: the server's own message, in the panels that asked.
    await page.goto(`${server.url}/explore?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z&group_by=feature`);
    await expect.poll(() => page.locator("[data-state=error]").count()).toBe(2);
    expect(await page.locator("[data-state=error]").first().innerText()).toContain("CT_INVALID_QUERY");
    await screenshot(page, "explorer-refused");
    await context.close();
  }, 60_000);
});
