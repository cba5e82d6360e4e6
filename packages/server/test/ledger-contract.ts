import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QuerySpec } from "@costtrail/core";
import { afterEach, describe, expect, it } from "vitest";
import type { LedgerStore, ReadScope } from "../src/store/ledger-store.js";
import { preparedEvents, wireEvent } from "./helpers.js";

/**
 * The LedgerStore contract: what every driver, in every arrangement (in this thread, on the
 * ledger thread, later ClickHouse), must do the same. `open` gets a fresh data file path.
 */
export type OpenLedger = (path: string) => Promise<LedgerStore>;

const ALL: ReadScope = { projects: null };
const EVERYTHING = { from: 0, to: 8.64e15, filters: [] } as const;

function spec(over: Partial<QuerySpec>): QuerySpec {
  return {
    metrics: ["cost_usd", "requests"],
    group_by: [],
    grain: null,
    time_zone: "UTC",
    from: Date.parse("2026-11-01T00:00:00Z"),
    to: Date.parse("2026-12-01T00:00:00Z"),
    filters: [],
    order_by: [],
    limit: null,
    other: false,
    distribution: null,
    ...over,
  };
}

/** Cost per agent run, by feature: p50, max, mean and the number of runs. */
const RUN_COST_BY_FEATURE = spec({
  metrics: ["cost_usd"],
  group_by: ["feature"],
  distribution: { metric: "cost_usd", per: "agent_run_id", stats: ["p50", "max", "mean", "count"] },
});

/** Events priced by usage alone: each input token of acme/… is unpriced, so costs come from cost_usd. */
function costed(id: string, cost: string, over: Record<string, unknown> = {}) {
  return wireEvent({ id, raw_usage: undefined, api: undefined, usage: { input_tokens: 10 }, cost_usd: cost, ...over });
}

export function ledgerContract(name: string, open: OpenLedger): void {
  describe(`the ledger contract: ${name}`, () => {
    const opened: LedgerStore[] = [];
    let dir = "";
    async function fresh(file = "ledger.duckdb"): Promise<LedgerStore> {
      dir ||= await mkdtemp(join(tmpdir(), "costtrail-contract-"));
      const store = await open(join(dir, file));
      opened.push(store);
      return store;
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close().catch(() => {});
      dir = "";
    });

    it("appends durably and reads back what it appended", async () => {
      const store = await fresh();
      const r = await store.append(await preparedEvents([costed("a1", "0.5"), costed("a2", "0.25", { project: "proj-b" })]));
      expect(r).toEqual({ inserted: 2, duplicates: [], conflicts: [] });
      expect(await store.count(ALL)).toBe(2);
      const page = await store.listEvents({ ...EVERYTHING, limit: 10 }, null, ALL);
      expect(page.events.map((e) => [e.id, e.cost_usd, e.project])).toEqual([
        ["a2", "0.25", "proj-b"],
        ["a1", "0.5", "proj-a"],
      ]);
      expect(page.next_cursor).toBeNull();
    });

    it("writes an id once: a resend is a duplicate, listed by its index in the call", async () => {
      const store = await fresh();
      const events = await preparedEvents([costed("d1", "1"), costed("d2", "2")]);
      await store.append(events);
      const again = await store.append([...(await preparedEvents([costed("d3", "3")])), ...events, ...events.slice(0, 1)]);
      expect(again).toEqual({ inserted: 1, duplicates: [1, 2, 3], conflicts: [] });
      expect(await store.count(ALL)).toBe(3);
    });

    it("refuses an id resent with another timestamp or other content as a conflict, keeping the first", async () => {
      const store = await fresh();
      await store.append(await preparedEvents([costed("c1", "1", { timestamp: "2026-11-20T10:00:00Z" })]));
      const r = await store.append(
        await preparedEvents([
          costed("c1", "1", { timestamp: "2026-11-25T10:00:00Z" }),
          costed("c1", "9", { timestamp: "2026-11-20T10:00:00Z" }),
        ]),
      );
      expect(r).toEqual({
        inserted: 0,
        duplicates: [],
        conflicts: [
          { index: 0, existing_timestamp: "2026-11-20T10:00:00.000Z" },
          { index: 1, existing_timestamp: "2026-11-20T10:00:00.000Z" },
        ],
      });
      const [row] = await store.query(spec({}), ALL);
      expect(row).toEqual({ cost_usd: "1", requests: 1 });
    });

    it("still catches a conflicting resend after the ledger is reopened", async () => {
      const store = await fresh();
      await store.append(await preparedEvents([costed("r1", "1", { timestamp: "2026-11-20T10:00:00Z" })]));
      await store.close();
      opened.splice(opened.indexOf(store), 1);
      const reopened = await fresh();
      const r = await reopened.append(
        await preparedEvents([
          costed("r1", "1", { timestamp: "2026-11-29T10:00:00Z" }),
          costed("r1", "1", { timestamp: "2026-11-20T10:00:00Z" }),
        ]),
      );
      expect(r).toMatchObject({ inserted: 0, duplicates: [1], conflicts: [{ index: 0 }] });
      expect(await reopened.count(ALL)).toBe(1);
    });

    it("rolls up exactly by column, tag and grain, and applies the read scope", async () => {
      const store = await fresh();
      await store.append(
        await preparedEvents([
          costed("q1", "0.1", { feature: "search", tags: { queue: "billing" }, timestamp: "2026-11-20T10:00:00Z" }),
          costed("q2", "0.2", { feature: "search", tags: { queue: "sales" }, timestamp: "2026-11-21T10:00:00Z" }),
          costed("q3", "0.000000000001", { feature: "chat", project: "proj-b", timestamp: "2026-11-21T11:00:00Z" }),
        ]),
      );
      expect(await store.query(spec({ group_by: ["feature"] }), ALL)).toEqual([
        { feature: "search", cost_usd: "0.3", requests: 2 },
        { feature: "chat", cost_usd: "0.000000000001", requests: 1 },
      ]);
      expect(
        await store.query(spec({ group_by: ["tag.queue"], grain: "day", order_by: [{ key: "bucket", desc: false }] }), {
          projects: ["proj-a"],
        }),
      ).toEqual([
        { "tag.queue": "billing", bucket: "2026-11-20T00:00:00Z", cost_usd: "0.1", requests: 1 },
        { "tag.queue": "sales", bucket: "2026-11-21T00:00:00Z", cost_usd: "0.2", requests: 1 },
      ]);
      expect(await store.query(spec({}), { projects: [] })).toEqual([{ cost_usd: null, requests: 0 }]);
      expect(await store.count({ projects: ["proj-b"] })).toBe(1);
    });

    it("shows unpriced spend as unknown, never as $0, in totals, ratios and distributions", async () => {
      const store = await fresh();
      await store.append(
        await preparedEvents([
          wireEvent({ id: "u1", provider: "acme", model: "unknown", feature: "dark", agent_run_id: "run-u" }),
          wireEvent({ id: "u2", provider: "acme", model: "unknown", feature: "dark", agent_run_id: "run-u" }),
          costed("u3", "2", { feature: "lit", agent_run_id: "run-p" }),
          wireEvent({ id: "u4", provider: "acme", model: "unknown", feature: "lit", agent_run_id: "run-q" }),
        ]),
      );
      expect(
        await store.query(spec({ metrics: ["cost_usd", "cost_per_request_usd", "unpriced_requests"], group_by: ["feature"] }), ALL),
      ).toEqual([
        { feature: "lit", cost_usd: "2", cost_per_request_usd: "1", unpriced_requests: 1 },
        { feature: "dark", cost_usd: null, cost_per_request_usd: null, unpriced_requests: 2 },
      ]);
      const dist = await store.query(RUN_COST_BY_FEATURE, ALL);
      expect(dist).toEqual([
        { feature: "lit", cost_usd_p50: "2", cost_usd_max: "2", cost_usd_mean: "2", cost_usd_count: 2, cost_usd: "2" },
        { feature: "dark", cost_usd_p50: null, cost_usd_max: null, cost_usd_mean: null, cost_usd_count: 1, cost_usd: null },
      ]);
    });

    it("gives a distribution per agent run and folds groups past the limit into (other)", async () => {
      const store = await fresh();
      await store.append(
        await preparedEvents([
          costed("x1", "1", { feature: "agent", agent_run_id: "run-1" }),
          costed("x2", "2", { feature: "agent", agent_run_id: "run-1" }),
          costed("x3", "5", { feature: "agent", agent_run_id: "run-2" }),
          costed("x4", "7", { feature: "other-a", agent_run_id: undefined }),
          costed("x5", "11", { feature: "other-b", agent_run_id: undefined }),
        ]),
      );
      const dist = await store.query(RUN_COST_BY_FEATURE, ALL);
      expect(dist).toEqual([
        { feature: "agent", cost_usd_p50: "3", cost_usd_max: "5", cost_usd_mean: "4", cost_usd_count: 2, cost_usd: "8" },
      ]);
      const folded = await store.query(spec({ group_by: ["feature"], limit: 1, other: true }), ALL);
      expect(folded).toEqual([
        { feature: "other-b", cost_usd: "11", requests: 1 },
        { feature: "(other)", cost_usd: "15", requests: 4 },
      ]);
    });

    it("pages newest first with cursors, every event once, and refuses a cursor it did not issue", async () => {
      const store = await fresh();
      const wire = Array.from({ length: 25 }, (_, i) =>
        costed(`p${String(i).padStart(2, "0")}`, "1", { timestamp: `2026-11-${String(1 + (i % 9)).padStart(2, "0")}T10:00:00Z` }),
      );
      await store.append(await preparedEvents(wire));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.listEvents({ ...EVERYTHING, limit: 7 }, cursor, ALL);
        seen.push(...page.events.map((e) => String(e.id)));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      const forged = Buffer.from(JSON.stringify([1e308, "a"])).toString("base64url");
      await expect(store.listEvents({ ...EVERYTHING, limit: 7 }, forged, ALL)).rejects.toMatchObject({ code: "CT_INVALID_CURSOR" });
      await expect(store.listEvents({ ...EVERYTHING, limit: 7 }, "not a cursor", ALL)).rejects.toMatchObject({ code: "CT_INVALID_CURSOR" });
    });

    it("exports in every format with the scope applied, and neutralises formulas in CSV", async () => {
      const store = await fresh();
      await store.append(
        await preparedEvents([
          costed("e1", "0.5", { feature: '=HYPERLINK("http://x")', user_id: "+1", customer_id: "-2", team: "@t" }),
          costed("e2", "0.25", { project: "proj-b" }),
        ]),
      );
      const out = await mkdtemp(join(tmpdir(), "costtrail-contract-export-"));
      expect(await store.exportTo(join(out, "a.csv"), "csv", EVERYTHING, { projects: ["proj-a"] })).toBe(1);
      const csv = await readFile(join(out, "a.csv"), "utf8");
      expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
      expect(csv).toContain(",'+1,");
      expect(csv).toContain(",'-2,");
      expect(csv).toContain("'@t");
      expect(csv).toContain(",0.5,");
      expect(await store.exportTo(join(out, "a.ndjson"), "ndjson", EVERYTHING, ALL)).toBe(2);
      const lines = (await readFile(join(out, "a.ndjson"), "utf8")).trim().split("\n");
      expect(lines.map((l) => JSON.parse(l).cost_usd)).toEqual(["0.5", "0.25"]);
      expect(await store.exportTo(join(out, "a.parquet"), "parquet", EVERYTHING, ALL)).toBe(2);
    });

    it("fails an export as CT_STORE_FAILED and leaves no file behind", async () => {
      const store = await fresh();
      await store.append(await preparedEvents([costed("f1", "1")]));
      const out = await mkdtemp(join(tmpdir(), "costtrail-contract-export-"));
      const target = join(out, "missing-dir", "x.csv");
      const err = await store.exportTo(target, "csv", EVERYTHING, ALL).catch((e) => e);
      expect(err).toMatchObject({ code: "CT_STORE_FAILED" });
      expect(existsSync(target)).toBe(false);
      expect(await readdir(out)).toEqual([]);
    });

    it("keeps API keys: saves, lists, revokes and records last use", async () => {
      const store = await fresh();
      const key = {
        id: "key_1",
        name: "finance",
        hash: "sha256:abc",
        scopes: ["read"],
        // A comma in a project name must not split it into two projects.
        projects: ["proj-a", "proj,b", 'prøj "c"'],
        created_ms: Date.parse("2026-11-20T10:00:00Z"),
        revoked_ms: null,
        last_used_ms: null,
      };
      await store.saveApiKey(key);
      await store.saveApiKey({ ...key, id: "key_2", hash: "sha256:def", projects: null });
      expect(await store.listApiKeys()).toEqual([key, { ...key, id: "key_2", hash: "sha256:def", projects: null }]);
      await store.revokeApiKey("key_1", Date.parse("2026-11-21T00:00:00Z"));
      // Revoking again later never extends the key's life.
      await store.revokeApiKey("key_1", Date.parse("2026-11-22T00:00:00Z"));
      await store.touchApiKeys(
        new Map([
          ["key_2", Date.parse("2026-11-23T00:00:00Z")],
          ["config:ops", 5],
        ]),
      );
      await store.touchApiKeys(new Map([["key_2", Date.parse("2026-11-22T00:00:00Z")]]));
      const listed = await store.listApiKeys();
      expect(listed.map((k) => [k.id, k.revoked_ms, k.last_used_ms])).toEqual([
        ["key_1", Date.parse("2026-11-21T00:00:00Z"), null],
        ["key_2", null, Date.parse("2026-11-23T00:00:00Z")],
      ]);
      expect(await store.keyUsage()).toEqual(
        new Map([
          ["key_2", Date.parse("2026-11-23T00:00:00Z")],
          ["config:ops", 5],
        ]),
      );
    });
  });
}
