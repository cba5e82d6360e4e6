import { createHash } from "node:crypto";
import { CosttrailError, Decimal, type RateCard } from "@costtrail/core";
import { splitCost } from "../store/duckdb/chunk-writer.js";
import type { EventPrice, LedgerStore, PriceVersion, RepriceEvent, RepriceSelection } from "../store/ledger-store.js";

/**
 * Events priced and written per step: the most a crash makes a resumed run redo, and what
 * bounds its memory (a 1M-event ledger re-priced in windows of 50,000 peaked at 1.7 GiB of RSS,
 * in windows of 10,000 at 0.8 GiB, 25% slower).
 */
const WINDOW_EVENTS = 10_000;
/** Rows written between checkpoints of the main file: appended rows are held in memory until one. */
const CHECKPOINT_ROWS = 200_000;
const HOUR_MS = 3_600_000;
const MONEY_SCALE = 18;

export interface RepriceRequest {
  readonly selection: RepriceSelection;
  readonly reason: string;
  /** The key that asked, as `name (id)`. */
  readonly createdBy: string;
  readonly dryRun: boolean;
}

export interface RepriceStart {
  /** The version started, or the completed one this request repeats; null when no event matches. */
  readonly version: PriceVersion | null;
  readonly events: number;
  /** True when an identical run (same selection, same rate card) had already completed: nothing new was written. */
  readonly reused: boolean;
}

/** A stable fingerprint of everything that prices an event: the models' dated entries and the account's adjustments. */
export function rateCardFingerprint(card: RateCard): string {
  const text = JSON.stringify({ data: card.dataSource, models: card.listing(), settings: card.settings() });
  return `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
}

/** A span of time and the selected events in it. */
export interface Span {
  readonly from: number;
  readonly to: number;
  readonly events: number;
}

/** Adjacent spans joined into windows of at most `limit` events (a span is never split). */
export function planWindows(spans: readonly Span[], limit = WINDOW_EVENTS): Span[] {
  const out: Array<{ from: number; to: number; events: number }> = [];
  for (const s of spans) {
    const last = out.at(-1);
    if (last && last.to === s.from && last.events + s.events <= limit) {
      last.to = s.to;
      last.events += s.events;
    } else out.push({ ...s });
  }
  return out;
}

/** The next finer unit to count a span by when it holds more than a window: hour → minute → second → millisecond. */
const FINER: Readonly<Record<number, number>> = { [HOUR_MS]: 60_000, 60000: 1000, 1000: 1 };

/** An event priced again under a rate card: what the collector would record for it today. */
export function priceAgain(card: RateCard, e: RepriceEvent): EventPrice {
  const stated = e.cost_source === "caller_estimate" || e.cost_source === "provider" ? (e.cost ?? undefined) : undefined;
  const r = card.price({
    provider: e.provider,
    model: e.model,
    timestamp: e.ts_ms,
    usage: { buckets: e.buckets, units: e.units },
    batch: e.batch,
    ...(e.service_tier !== null && { serviceTier: e.service_tier }),
    // A cost the caller or the provider stated is a fact of the call: it stays, and the computed cost is redone beside it.
    ...(stated !== undefined && e.cost_source === "caller_estimate" && { callerCost: stated }),
    ...(stated !== undefined && e.cost_source === "provider" && { providerCost: stated }),
  });
  const notes = r.status === "unpriced" ? [r.reason, ...r.notes] : [...r.notes];
  let main: string | null = null;
  let residual: string | null = null;
  if (r.cost !== null) {
    const parts = splitCost(r.cost.round(MONEY_SCALE).toString());
    main = Decimal.of(parts.main, 12).toString();
    residual = parts.residual === null ? null : Decimal.of(parts.residual, MONEY_SCALE).toString();
  }
  return {
    id: e.id,
    project: e.project,
    ts_ms: e.ts_ms,
    cost_main: main,
    cost_residual: residual,
    computed_cost: r.computedCost === null ? null : r.computedCost.round(MONEY_SCALE).toString(),
    cost_source: r.costSource,
    price_status: r.status,
    rate_card_entry: r.entry?.id ?? null,
    price_note: notes.length > 0 ? notes.join("; ") : null,
  };
}

function sameDecimal(a: string | null, b: string | null): boolean {
  return a === null || b === null ? a === b : Decimal.parse(a).eq(Decimal.parse(b));
}

/** Whether an event priced again has the price it has now: cost, computed cost, source, status, entry and note. */
export function samePrice(p: EventPrice, now: RepriceEvent): boolean {
  const cost =
    p.cost_main === null
      ? null
      : Decimal.parse(p.cost_main)
          .add(Decimal.parse(p.cost_residual ?? "0"))
          .toString();
  return (
    sameDecimal(cost, now.cost) &&
    sameDecimal(p.computed_cost, now.computed) &&
    p.cost_source === now.cost_source &&
    p.price_status === now.price_status &&
    p.rate_card_entry === now.rate_card_entry &&
    p.price_note === now.price_note
  );
}

/**
 * Runs re-pricings: one at a time, in windows of events, each window's prices written before
 * the version's progress says so; a version becomes `done` (and what `current` pricing reads)
 * only once every window is written. A run interrupted by a stop or a crash is resumed at the
 * next start from its last finished window, after dropping anything written past it.
 */
export class Repricer {
  private running: { version: number; done: Promise<void> } | null = null;
  private stopping = false;
  private starting = false;

  constructor(
    private readonly store: LedgerStore,
    private readonly rateCard: () => RateCard,
    private readonly log: { info(o: object, m: string): void; error(o: object, m: string): void },
    /** Events per window (tests make it small). */
    private readonly windowEvents = WINDOW_EVENTS,
  ) {}

  async start(req: RepriceRequest): Promise<RepriceStart> {
    if (this.running)
      throw new CosttrailError(
        "CT_REPRICE_RUNNING",
        `price version ${this.running.version} is still running; wait for it, or watch GET /v1/reprice/${this.running.version}`,
      );
    if (this.starting) throw new CosttrailError("CT_REPRICE_RUNNING", "another re-pricing is being started; try again in a moment");
    // Two requests at once must not both pass the checks above while the first plans.
    this.starting = true;
    try {
      return await this.begin(req);
    } finally {
      this.starting = false;
    }
  }

  private async begin(req: RepriceRequest): Promise<RepriceStart> {
    const card = this.rateCard();
    const fingerprint = rateCardFingerprint(card);
    const windows = await this.plan(req.selection, req.selection.from);
    const events = windows.reduce((n, w) => n + w.events, 0);
    if (events === 0) return { version: null, events: 0, reused: false };
    const versions = await this.store.priceVersions();
    if (!req.dryRun) {
      const same = versions.filter((v) => v.state === "done" && !v.dry_run).at(-1);
      if (same && same.rate_card === fingerprint && JSON.stringify(same.selection) === JSON.stringify(req.selection))
        return { version: same, events: same.events_total, reused: true };
    }
    const version: PriceVersion = {
      version: (versions.at(-1)?.version ?? 0) + 1,
      created_ms: Date.now(),
      created_by: req.createdBy,
      reason: req.reason,
      selection: req.selection,
      rate_card: fingerprint,
      dry_run: req.dryRun,
      state: "running",
      events_total: events,
      events_done: 0,
      events_changed: 0,
      done_until_ms: null,
      recorded_cost: null,
      current_cost: null,
      unpriced_before: null,
      unpriced_after: null,
      finished_ms: null,
      error: null,
    };
    await this.store.savePriceVersion(version);
    this.launch(version, card, windows);
    return { version, events, reused: false };
  }

  /** Picks up versions a stop or crash left running (at start). */
  async resume(): Promise<void> {
    for (const v of await this.store.priceVersions()) {
      if (v.state !== "running") continue;
      const card = this.rateCard();
      const fail = async (error: string) => {
        await this.store.savePriceVersion({ ...v, state: "failed", error, finished_ms: Date.now() });
        this.log.error({ version: v.version }, `price version ${v.version} not resumed: ${error}`);
      };
      if (v.dry_run) {
        await fail("a dry run is not resumed after a stop; run it again");
        continue;
      }
      if (rateCardFingerprint(card) !== v.rate_card) {
        await fail("the rate card changed while it was interrupted; run it again to price with the new one");
        continue;
      }
      // Rows a crash left past the last finished window are written again. Priced by the same card they
      // are the same prices, and a reader takes one row per event and version, so nothing counts twice.
      const windows = await this.plan(v.selection, v.done_until_ms ?? v.selection.from);
      this.log.info({ version: v.version, done: v.events_done, total: v.events_total }, `resuming price version ${v.version}`);
      this.launch(v, card, windows);
      await this.running?.done;
    }
  }

  /**
   * The selection's events from `fromMs` on, cut into windows: counted per hour, and an hour
   * (then a minute, a second) holding more than a window counted again more finely, so a
   * burst of ingest in one hour never makes one window of a million events.
   */
  private async plan(sel: RepriceSelection, fromMs: number): Promise<Span[]> {
    const spans: Span[] = [];
    const count = async (from: number, to: number, unit: number): Promise<void> => {
      for (const c of await this.store.repriceCounts(sel, from, to, unit)) {
        const span = { from: Math.max(c.start_ms, from), to: Math.min(c.start_ms + unit, to), events: c.events };
        const finer = FINER[unit];
        if (span.events > this.windowEvents && finer !== undefined) await count(span.from, span.to, finer);
        else spans.push(span);
      }
    };
    const from = Math.max(fromMs, sel.from);
    await count(from, sel.to, HOUR_MS);
    // No selected event lies between two spans: stretch each to the next, so that windows join across the gaps.
    const contiguous = spans.map((s, i) => ({ ...s, from: i === 0 ? from : s.from, to: spans[i + 1]?.from ?? sel.to }));
    return planWindows(contiguous, this.windowEvents);
  }

  /** Waits for the running version to reach a window's end and leaves it resumable. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.done;
  }

  /** Waits for the running version to finish (tests, and a caller that wants the answer). */
  async idle(): Promise<void> {
    await this.running?.done;
  }

  private launch(version: PriceVersion, card: RateCard, windows: readonly Span[]): void {
    const done = this.run(version, card, windows)
      .catch(async (e) => {
        this.log.error({ err: e, version: version.version }, `price version ${version.version} failed`);
        const latest = (await this.store.priceVersions()).find((v) => v.version === version.version) ?? version;
        await this.store
          .savePriceVersion({ ...latest, state: "failed", error: (e as Error).message, finished_ms: Date.now() })
          .catch(() => {});
      })
      .finally(() => {
        this.running = null;
      });
    this.running = { version: version.version, done };
  }

  private async run(start: PriceVersion, card: RateCard, windows: readonly Span[]): Promise<void> {
    let v = start;
    let recorded = v.recorded_cost === null ? null : Decimal.parse(v.recorded_cost);
    let current = v.current_cost === null ? null : Decimal.parse(v.current_cost);
    let before = v.unpriced_before ?? 0;
    let after = v.unpriced_after ?? 0;
    let unflushed = 0;
    for (const w of windows) {
      if (this.stopping) return;
      // Counted once each: a read that overlaps a compaction moving these events into the main file
      // has been seen to return some of them twice (a crash test counted 152,528 of 150,000).
      const seen = new Set<string>();
      const events = (await this.store.repriceEvents(v.selection, w.from, w.to)).filter((e) => {
        const key = `${e.project}\u0000${e.id}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      const prices = events.map((e) => priceAgain(card, e));
      // Only a changed price is written: an unchanged event reads as it is now, and a version that changes little stays small.
      const changed = prices.filter((p, i) => !samePrice(p, events[i] as RepriceEvent));
      // The totals are summed as the windows go, and saved with each window's progress, so a resumed run adds up right.
      for (let i = 0; i < events.length; i++) {
        const e = events[i] as RepriceEvent;
        const p = prices[i] as EventPrice;
        if (e.recorded_cost !== null) recorded = (recorded ?? Decimal.ZERO).add(Decimal.parse(e.recorded_cost));
        if (e.recorded_status === "unpriced") before++;
        if (p.cost_main !== null)
          current = (current ?? Decimal.ZERO).add(Decimal.parse(p.cost_main)).add(Decimal.parse(p.cost_residual ?? "0"));
        if (p.price_status === "unpriced") after++;
      }
      if (!v.dry_run) {
        await this.store.writeEventPrices(v.version, changed);
        unflushed += changed.length;
        if (unflushed >= CHECKPOINT_ROWS) {
          await this.store.checkpointPrices();
          unflushed = 0;
        }
      }
      v = {
        ...v,
        events_done: v.events_done + events.length,
        events_changed: v.events_changed + changed.length,
        done_until_ms: w.to,
        recorded_cost: recorded?.normalize().toString() ?? null,
        current_cost: current?.normalize().toString() ?? null,
        unpriced_before: before,
        unpriced_after: after,
      };
      await this.store.savePriceVersion(v);
    }
    if (!v.dry_run) await this.store.checkpointPrices();
    // The flip to done is one write: until it, `current` pricing does not see this version at all.
    await this.store.savePriceVersion({ ...v, state: "done", finished_ms: Date.now() });
    this.log.info({ version: v.version, events: v.events_done }, `price version ${v.version} done`);
  }
}
