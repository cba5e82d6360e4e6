import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, HAVE_BROWSER, SCREENSHOTS, launch, openPage, screenshot, signIn, startDashboard } from "./browser.js";

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
    expect(header).toBe("feature,cost_usd,requests,cost_per_request_usd,error_rate");
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

  it("budgets: every budget's standing, a burn-down that matches the ledger, and an admin approving a request to exceed one", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    const api = async <T>(path: string): Promise<T> => (await (await context.request.get(`${server.url}${path}`)).json()) as T;
    const { budgets } = await api<{ budgets: Array<{ name: string; scope: string | null; limit_usd: string }> }>("/v1/budgets");
    await page.getByRole("link", { name: "Budgets", exact: true }).click();
    await page.locator("[data-section=budget-list] li").first().waitFor();
    expect(await page.locator("[data-section=budget-list] li").count()).toBe(budgets.length);
    await page.goto(`${server.url}/budgets?budget=dev-tools-30d`);
    await page.locator("[data-chart=burn-down]").waitFor();
    const series = await api<{ limit_usd: string; points: Array<{ cumulative_usd: string }> }>("/v1/budgets/dev-tools-30d/series");
    expect(series.points.length).toBeGreaterThan(20);
    expect(await page.locator("[data-chart=burn-down]").getAttribute("data-total")).toBe(series.points.at(-1)?.cumulative_usd);
    expect(await page.locator("[data-chart=burn-down]").getAttribute("data-limit")).toBe("400");
    await screenshot(page, "budgets");

    // The demo's request to exceed code-review-weekly, approved with a note: its limit grows by the amount.
    const pending = page.locator("[data-section=overrides] li[data-state=pending]");
    await expect.poll(() => pending.count()).toBe(1);
    expect(await pending.innerText()).toContain("Release week");
    const before = budgets.find((b) => b.name === "code-review-weekly")?.limit_usd;
    expect(before).toBe("40");
    await pending.getByLabel(/Note on/).fill("ok for this week");
    await pending.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => page.locator("[data-section=overrides] li[data-state=approved]").count()).toBe(1);
    expect(await page.locator("[data-section=overrides] li[data-state=approved]").innerText()).toContain("ok for this week");
    const after = await api<{ budgets: Array<{ name: string; limit_usd: string }> }>("/v1/budgets");
    expect(after.budgets.find((b) => b.name === "code-review-weekly")?.limit_usd).toBe("60");
    expect(errors).toEqual([]);
    await context.close();

    // A reader sees the requests but no buttons: only an admin decides.
    const created = await fetch(`${server.url}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "finance", scopes: ["read"] }),
    });
    const reader = (await created.json()) as { key: string };
    const other = await openPage(browser);
    await other.page.goto(`${server.url}/sign-in`);
    await other.page.getByLabel("API key").fill(reader.key);
    await other.page.getByRole("button", { name: "Sign in" }).click();
    await other.page.getByTestId("who").waitFor();
    await other.page.goto(`${server.url}/budgets`);
    await other.page.locator("[data-section=overrides] li").first().waitFor();
    expect(await other.page.getByRole("button", { name: "Approve" }).count()).toBe(0);
    expect(await other.page.locator("[data-section=overrides]").innerText()).toContain("An admin decides");
    await other.context.close();
  }, 90_000);

  it("alerts: the open ones as the API lists them, each linking to the view it is about; prices: unpriced models, the rates in force", async () => {
    const { page, errors, context } = await openPage(browser);
    await signIn(page, server);
    const open = (await (await context.request.get(`${server.url}/v1/alerts?state=open&limit=200`)).json()) as {
      alerts: Array<{ id: string; type: string }>;
    };
    expect(open.alerts.length).toBeGreaterThan(0);
    await page.getByRole("link", { name: "Alerts", exact: true }).click();
    await page.locator("[data-section=alert-list] li").first().waitFor();
    expect(await page.locator("[data-section=alert-list] li").count()).toBe(open.alerts.length);
    await screenshot(page, "alerts");
    // The demo's self-hosted model has no price: its alert opens the prices page on that model.
    const unpriced = open.alerts.find((a) => a.type === "unpriced_model") as { id: string };
    expect(unpriced).toBeDefined();
    await page.locator(`[data-alert="${unpriced.id}"]`).getByRole("link", { name: "Look at it" }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe("/prices");
    const row = page.locator('[data-unpriced="acme/llama-3-70b-internal"]');
    await row.waitFor();
    expect(await row.getAttribute("aria-current")).toBe("true");
    const listed = (await (await context.request.get(`${server.url}/v1/prices/unpriced`)).json()) as {
      models: Array<{ model: string; requests: number }>;
    };
    expect(await row.locator("td").nth(1).innerText()).toBe(
      listed.models.find((m) => m.model === "llama-3-70b-internal")?.requests.toLocaleString("en-US"),
    );
    // Each model in use with the rate that prices it now, exactly as published.
    const haiku = page.locator('[data-section=models-in-use] tr[data-model="anthropic/claude-haiku-4-5"]');
    await expect.poll(() => haiku.innerText()).toContain("Input $1.00/M");
    expect(await haiku.innerText()).toContain("Output $5.00/M");
    expect(await page.locator('[data-section=models-in-use] tr[data-model="acme/llama-3-70b-internal"]').innerText()).toContain("no price");
    await page.getByLabel("Find a model").fill("gpt-4o-mini");
    await expect.poll(() => page.locator("[data-section=rate-card] tbody tr").first().innerText()).toContain("gpt-4o-mini");
    await screenshot(page, "prices");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

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
