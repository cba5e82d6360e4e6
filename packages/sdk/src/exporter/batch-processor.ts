import type { UsageEvent } from "@costtrail/core";
import type { EventExporter, ExportOutcome } from "./export-outcome.js";
import { type SpooledBatch, Spool } from "./spool.js";

export interface BatchProcessorOptions {
  /** Events per POST (default 500). */
  readonly maxBatchSize?: number;
  /** Longest an event waits in memory before it is sent (default 1 s). */
  readonly flushIntervalMs?: number;
  /** Events held in memory; past it they go to the spool, or are dropped without one (default 10,000). */
  readonly maxQueueSize?: number;
  /** Where batches wait while the collector is unreachable; false keeps them only in memory. */
  readonly spoolDir?: string | false;
  /** Largest spool on disk (default 256 MiB). */
  readonly maxSpoolBytes?: number;
  /** First retry delay; each failure doubles it, with jitter (default 500 ms). */
  readonly initialBackoffMs?: number;
  /** Longest retry delay, and the cap on a collector's Retry-After (default 30 s). */
  readonly maxBackoffMs?: number;
  /** Told about telemetry trouble; never thrown into the app. */
  readonly onError?: (error: Error) => void;
  /**
   * How long the send at the app's natural exit may keep the process alive; past it the send is
   * abandoned and its events are spooled for the next start (default 2 s).
   */
  readonly exitFlushTimeoutMs?: number;
}

/** Counts since the processor started. */
export interface ExportStats {
  /** Events the collector acknowledged (written or already there). */
  sent: number;
  /** Events written to the spool. */
  spooled: number;
  /** Events lost: queue or spool full, or refused by the collector as invalid. */
  dropped: number;
  /** Events the collector refused one by one (invalid); part of `dropped`. */
  rejected: number;
  /** Events the collector already had (sent twice, e.g. after a lost answer); part of `sent`. */
  duplicates: number;
  /** Export attempts that failed and will be retried. */
  retries: number;
}

interface Batch {
  readonly events: UsageEvent[];
  readonly spooled?: SpooledBatch;
}

/**
 * Collects events off the app's hot path and sends them in batches: by size or after
 * `flushIntervalMs`, one request at a time, on timers that never keep the process alive.
 *
 * While the collector is unreachable, every batch goes to the spool and one retry is tried at a
 * time, after an exponentially growing, jittered delay (or the collector's Retry-After). The
 * spool is always drained before the memory queue, oldest file first, so events reach the
 * collector in the order they were recorded.
 */
export class BatchProcessor {
  private readonly queue: UsageEvent[] = [];
  private readonly spool: Spool | undefined;
  private readonly maxBatchSize: number;
  /** Shrinks when the collector answers 413 for a batch, and stays so. */
  private batchSize: number;
  private readonly maxQueueSize: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timer: NodeJS.Timeout;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  /** The batch being sent, until its outcome is settled (spooled, removed or re-queued). */
  private inFlight: Batch | undefined;
  private inFlightAbort: AbortController | undefined;
  /** Batches taken off the queue on their way to the spool. */
  private readonly spilling = new Set<UsageEvent[]>();
  /** The app's event loop emptied: send the queue, but do not start on the spool's backlog. */
  private exiting = false;
  /** The last attempt failed: batches go to the spool until a retry gets through. */
  private down = false;
  /** Failed attempts in a row, for the backoff. */
  private failures = 0;
  private closed = false;
  private lastErrorAt = 0;
  readonly stats: ExportStats = { sent: 0, spooled: 0, dropped: 0, rejected: 0, duplicates: 0, retries: 0 };
  private readonly onBeforeExit = () => this.exitFlush();
  private readonly onExit = () => this.spoolSync();
  private enqueuedSinceExitFlush = false;
  /** The interval passed or a flush was asked for: a part batch may go too. */
  private partialDue = false;

  constructor(
    private readonly exporter: EventExporter,
    private readonly options: BatchProcessorOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 500;
    this.batchSize = this.maxBatchSize;
    this.maxQueueSize = Math.max(options.maxQueueSize ?? 10_000, this.maxBatchSize);
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    if (options.spoolDir) {
      try {
        this.spool = new Spool(options.spoolDir, options.maxSpoolBytes ?? 256 * 1024 * 1024);
      } catch (err) {
        this.report(new Error(`telemetry spool ${options.spoolDir} unusable, events are kept in memory only: ${(err as Error).message}`));
      }
    }
    this.timer = setInterval(() => this.tick(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
    process.on("beforeExit", this.onBeforeExit);
    process.on("exit", this.onExit);
    // Batches a previous process left are sent once this one finds the collector.
    if (this.spool?.hasPendingSync()) this.kick();
  }

  /** Takes one event; never blocks and never throws. */
  enqueue(event: UsageEvent): void {
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    if (this.queue.length >= this.maxQueueSize) {
      if (this.spool) this.spillQueue();
      else {
        this.stats.dropped++;
        this.report(new Error(`telemetry queue full (${this.maxQueueSize} events): event dropped`));
        return;
      }
    }
    this.queue.push(event);
    this.enqueuedSinceExitFlush = true;
    this.exiting = false;
    if (this.queue.length >= this.batchSize && !this.down) this.kick();
  }

  /** Events waiting in memory. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Sends what is queued now, trying the collector once even if a retry is pending. Whatever
   * cannot be sent goes to the spool (or stays queued without one). Never rejects.
   */
  async flush(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.down = false;
    this.partialDue = true;
    await this.pump();
    if (this.down && this.spool) await this.spillQueueAsync();
  }

  /** Flushes, then stops: later events are dropped and counted. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.queue.length > 0) {
      // Down, and no spool to keep them in.
      this.stats.dropped += this.queue.length;
      this.report(new Error(`shut down with the collector unreachable: ${this.queue.length} events dropped`));
      this.queue.length = 0;
    }
    clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    process.off("beforeExit", this.onBeforeExit);
    process.off("exit", this.onExit);
    this.spool?.close();
    await this.exporter.shutdown?.();
  }

  private tick(): void {
    if (this.down) {
      // The collector is down: keep memory small and the events safe on disk meanwhile.
      if (this.spool && this.queue.length > 0 && !this.pumping) void this.spillQueueAsync();
      return;
    }
    if (this.queue.length > 0 || this.spoolMayWait()) {
      this.partialDue = true;
      this.kick();
    }
  }

  private lastSpoolLook = 0;

  /** Another process's backlog may appear at any time; the directory is looked at every 5 s at most. */
  private spoolMayWait(): boolean {
    if (!this.spool || this.exiting) return false;
    const now = Date.now();
    if (now - this.lastSpoolLook < 5000) return false;
    this.lastSpoolLook = now;
    return this.spool.hasPendingSync();
  }

  private kick(): void {
    if (!this.pumping) void this.pump();
  }

  private pump(): Promise<void> {
    if (!this.pumping) {
      this.pumping = this.drain()
        .catch((err: Error) => this.report(err))
        .finally(() => {
          this.pumping = undefined;
        });
    }
    return this.pumping;
  }

  private async drain(): Promise<void> {
    while (!this.down) {
      const batch = await this.nextBatch();
      if (!batch) return;
      this.inFlight = batch;
      this.inFlightAbort = new AbortController();
      let outcome: ExportOutcome;
      try {
        outcome = await this.exporter.export(batch.events, this.inFlightAbort.signal);
      } catch (err) {
        outcome = { kind: "retryable", error: err instanceof Error ? err : new Error(String(err)) };
      }
      this.inFlightAbort = undefined;
      try {
        await this.settle(batch, outcome);
      } finally {
        this.inFlight = undefined;
      }
    }
  }

  private async nextBatch(): Promise<Batch | undefined> {
    while (this.spool && !this.exiting) {
      const spooled = await this.spool.claimOldest().catch((err: Error) => {
        this.report(err);
        return null;
      });
      if (!spooled) break;
      if (spooled.events.length <= this.batchSize) return { events: spooled.events, spooled };
      // Written before a 413 shrank the batches, or by a process with larger ones.
      await this.spool.split(spooled, this.batchSize);
    }
    if (this.queue.length === 0 || (this.queue.length < this.batchSize && !this.partialDue)) {
      this.partialDue = false;
      return undefined;
    }
    return { events: this.queue.splice(0, this.batchSize) };
  }

  private async settle(batch: Batch, outcome: ExportOutcome): Promise<void> {
    if (outcome.kind === "success") {
      this.failures = 0;
      this.stats.sent += batch.events.length - outcome.rejected;
      this.stats.duplicates += outcome.duplicates;
      if (outcome.rejected > 0) {
        this.stats.rejected += outcome.rejected;
        this.stats.dropped += outcome.rejected;
        this.report(new Error(`the collector rejected ${outcome.rejected} of ${batch.events.length} events as invalid`));
      }
      if (batch.spooled) await this.removeSpooled(batch.spooled);
      return;
    }
    if (outcome.kind === "failure") {
      if (outcome.splittable && batch.events.length > 1) {
        // Too large for the collector's body limit: sent again in halves, in order.
        this.batchSize = Math.ceil(batch.events.length / 2);
        if (!batch.spooled) this.queue.unshift(...batch.events);
        else await this.spool?.split(batch.spooled, this.batchSize).catch((err: Error) => this.report(err));
        return;
      }
      this.stats.dropped += batch.events.length;
      this.stats.rejected += batch.events.length;
      this.report(outcome.error);
      if (batch.spooled) await this.removeSpooled(batch.spooled);
      return;
    }
    this.stats.retries++;
    this.failures++;
    this.down = true;
    this.report(outcome.error);
    if (batch.spooled) await this.spool?.release(batch.spooled).catch((err: Error) => this.report(err));
    else if (this.spool) {
      // Older than anything queued, newer than anything spooled: the spool keeps that order.
      await this.spoolBatch(batch.events);
    } else {
      this.queue.unshift(...batch.events);
      this.trimQueue();
    }
    this.scheduleRetry(outcome.retryAfterMs);
  }

  private async removeSpooled(batch: SpooledBatch): Promise<void> {
    await this.spool?.remove(batch).catch((err: Error) => this.report(err));
  }

  private scheduleRetry(retryAfterMs: number | undefined): void {
    if (this.closed || this.retryTimer) return;
    const cap = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.failures - 1, 30));
    // Half fixed, half random: spreads many clients' retries without ever retrying at once.
    const backoff = cap / 2 + Math.random() * (cap / 2);
    const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, this.maxBackoffMs) : backoff;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // One attempt with the oldest batch; if it gets through, everything waiting follows.
      this.down = false;
      this.partialDue = true;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  private trimQueue(): void {
    const over = this.queue.length - this.maxQueueSize;
    if (over > 0) {
      this.queue.splice(this.maxQueueSize);
      this.stats.dropped += over;
      this.report(new Error(`telemetry queue full (${this.maxQueueSize} events): ${over} events dropped`));
    }
  }

  private async spoolBatch(events: UsageEvent[]): Promise<void> {
    const kept = await this.spool?.append(events).catch((err: Error) => {
      this.report(err);
      return false;
    });
    if (kept) this.stats.spooled += events.length;
    else {
      this.stats.dropped += events.length;
      this.report(new Error(`telemetry spool full or unwritable: ${events.length} events dropped`));
    }
  }

  private spillQueue(): void {
    void this.spillQueueAsync();
  }

  private async spillQueueAsync(): Promise<void> {
    while (this.queue.length > 0) {
      const events = this.queue.splice(0, this.batchSize);
      this.spilling.add(events);
      try {
        await this.spoolBatch(events);
      } finally {
        this.spilling.delete(events);
      }
    }
  }

  /**
   * The app's event loop emptied: send what is queued, once per burst of new events, within
   * `exitFlushTimeoutMs`. The spool's backlog waits for a process that is not exiting.
   */
  private exitFlush(): void {
    if (!this.enqueuedSinceExitFlush) return;
    this.enqueuedSinceExitFlush = false;
    this.exiting = true;
    if (this.queue.length === 0) return;
    const deadline = setTimeout(() => this.inFlightAbort?.abort(), this.options.exitFlushTimeoutMs ?? 2000);
    deadline.unref();
    void this.flush().finally(() => clearTimeout(deadline));
  }

  /** `process.exit()` left no time to send: what is in memory goes to the spool for the next start. */
  private spoolSync(): void {
    if (!this.spool) return;
    const events = [...(this.inFlight && !this.inFlight.spooled ? this.inFlight.events : []), ...[...this.spilling].flat(), ...this.queue];
    this.queue.length = 0;
    for (let i = 0; i < events.length; i += this.batchSize) {
      try {
        this.spool.appendSync(events.slice(i, i + this.batchSize));
      } catch {
        return;
      }
    }
  }

  private report(error: Error): void {
    const handler = this.options.onError;
    if (handler) {
      try {
        handler(error);
      } catch {
        // The app's handler failing must not reach the app either.
      }
      return;
    }
    // Without a handler, a line on stderr at most once a minute.
    const now = Date.now();
    if (now - this.lastErrorAt > 60_000) {
      this.lastErrorAt = now;
      process.emitWarning(`costtrail: ${error.message}`, "CosttrailTelemetryWarning");
    }
  }
}
