import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { UsageEvent } from "@costtrail/core";

/** One spooled batch, claimed by this process while it is being sent. */
export interface SpooledBatch {
  readonly file: string;
  readonly events: UsageEvent[];
}

const BATCH_SUFFIX = ".ndjson";
const CLAIM_MARK = ".sending-";

/** Claim tokens of the spools open in this process: a claim of this pid with another token is stale. */
const LIVE_TOKENS = new Set<string>();

/**
 * Batches the collector could not take yet, one NDJSON file each, in a directory that
 * outlives the process. File names start with the time they were written and a sequence
 * number, so sorting them gives the order the events were recorded in and replay keeps it.
 *
 * A batch is removed only after the collector acknowledged it, so a crash between the two
 * sends it again; the collector's idempotency by event id writes it once. A process takes a
 * file by renaming it to `<name>.sending-<pid>`, so two processes sharing the directory never
 * send the same file at the same time. A claim is `<pid>-<token>`, the token one per open
 * spool: a claim whose process is gone, or whose token no spool of this process holds (a
 * container restarted under the same pid), is taken back.
 */
export class Spool {
  private seq = 0;
  private bytes = 0;
  private sized = false;
  private readonly claimMark: string;
  private readonly token = randomBytes(6).toString("hex");

  constructor(
    readonly dir: string,
    /** Beyond this many bytes on disk new batches are dropped (and counted), not written. */
    readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.claimMark = `${CLAIM_MARK}${process.pid}-${this.token}`;
    LIVE_TOKENS.add(this.token);
  }

  /** This spool's claims become stale for later spools of the process. */
  close(): void {
    LIVE_TOKENS.delete(this.token);
  }

  private nextName(): string {
    this.seq++;
    return `${String(Date.now()).padStart(15, "0")}-${process.pid}-${String(this.seq).padStart(9, "0")}${BATCH_SUFFIX}`;
  }

  private async write(name: string, events: readonly UsageEvent[]): Promise<number> {
    const text = Spool.encode(events);
    // Written under a temporary name and renamed, so a reader never sees half a batch.
    const tmp = join(this.dir, `${name}.tmp`);
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, join(this.dir, name));
    return Buffer.byteLength(text);
  }

  private static encode(events: readonly UsageEvent[]): string {
    let text = "";
    for (const e of events) text += `${JSON.stringify(e)}\n`;
    return text;
  }

  private async ensureSized(): Promise<void> {
    if (this.sized) return;
    this.sized = true;
    for (const name of await readdir(this.dir)) {
      if (!name.includes(BATCH_SUFFIX)) continue;
      try {
        this.bytes += (await stat(join(this.dir, name))).size;
      } catch {
        // Taken and removed by another process meanwhile.
      }
    }
  }

  /** Writes a batch; false when the spool is full and the batch was not kept. */
  async append(events: readonly UsageEvent[]): Promise<boolean> {
    if (events.length === 0) return true;
    await this.ensureSized();
    const text = Spool.encode(events);
    const size = Buffer.byteLength(text);
    if (this.bytes + size > this.maxBytes) return false;
    await this.write(this.nextName(), events);
    this.bytes += size;
    return true;
  }

  /**
   * Replaces a claimed batch by parts of at most `size` events, named to sort where the batch
   * stood, so the order holds (after a 413 from the collector's body limit).
   */
  async split(batch: SpooledBatch, size: number): Promise<void> {
    const base = batch.file.slice(0, batch.file.indexOf(CLAIM_MARK) - BATCH_SUFFIX.length);
    const name = base.slice(this.dir.length + 1);
    for (let i = 0, part = 0; i < batch.events.length; i += size, part++) {
      await this.write(`${name}-p${String(part).padStart(4, "0")}${BATCH_SUFFIX}`, batch.events.slice(i, i + size));
    }
    await rm(batch.file, { force: true });
  }

  /** For the process's `exit` event, where only synchronous work runs. */
  appendSync(events: readonly UsageEvent[]): boolean {
    if (events.length === 0) return true;
    const text = Spool.encode(events);
    const size = Buffer.byteLength(text);
    if (this.sized && this.bytes + size > this.maxBytes) return false;
    const name = this.nextName();
    const tmp = join(this.dir, `${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(this.dir, name));
    this.bytes += size;
    return true;
  }

  /** Whether any batch waits, counting claims of processes that are gone. */
  hasPendingSync(): boolean {
    try {
      return readdirSync(this.dir).some((n) => n.endsWith(BATCH_SUFFIX) || isStaleClaim(n));
    } catch {
      return false;
    }
  }

  /** Takes the oldest waiting batch, or null when none waits. */
  async claimOldest(): Promise<SpooledBatch | null> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return null;
    }
    for (const name of names) {
      if (isStaleClaim(name)) {
        await rename(join(this.dir, name), join(this.dir, name.slice(0, name.indexOf(CLAIM_MARK)))).catch(() => {});
      }
    }
    const waiting = (await readdir(this.dir)).filter((n) => n.endsWith(BATCH_SUFFIX)).sort();
    for (const name of waiting) {
      const claimed = join(this.dir, `${name}${this.claimMark}`);
      try {
        await rename(join(this.dir, name), claimed);
      } catch {
        continue; // another process took it first
      }
      let text: string;
      try {
        text = await readFile(claimed, "utf8");
      } catch (err) {
        await rename(claimed, join(this.dir, name)).catch(() => {});
        throw err;
      }
      const events: UsageEvent[] = [];
      for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        try {
          events.push(JSON.parse(line) as UsageEvent);
        } catch {
          // A line cut by a full disk: the rest of the batch still goes.
        }
      }
      return { file: claimed, events };
    }
    return null;
  }

  /** The collector has the batch: it is gone for good. */
  async remove(batch: SpooledBatch): Promise<void> {
    const size = await stat(batch.file).then(
      (s) => s.size,
      () => 0,
    );
    await rm(batch.file, { force: true });
    this.bytes = Math.max(0, this.bytes - size);
  }

  /** Sending failed: the batch waits again, in its place in the order. */
  async release(batch: SpooledBatch): Promise<void> {
    await rename(batch.file, batch.file.slice(0, batch.file.indexOf(CLAIM_MARK))).catch(() => {});
  }
}

function isStaleClaim(name: string): boolean {
  const at = name.indexOf(CLAIM_MARK);
  if (at < 0) return false;
  const [pidText, token] = name.slice(at + CLAIM_MARK.length).split("-");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return token === undefined || !LIVE_TOKENS.has(token);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
