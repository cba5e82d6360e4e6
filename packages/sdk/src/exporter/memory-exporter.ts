import type { UsageEvent } from "@costtrail/core";
import type { EventExporter, ExportOutcome } from "./export-outcome.js";

/**
 * Keeps every exported event in memory, so an app's own tests can assert on the events its
 * code emits: `new Costtrail({ exporter: new MemoryExporter() })`.
 */
export class MemoryExporter implements EventExporter {
  private readonly kept: UsageEvent[] = [];

  async export(events: readonly UsageEvent[]): Promise<ExportOutcome> {
    this.kept.push(...events);
    return { kind: "success", accepted: events.length, rejected: 0, duplicates: 0 };
  }

  /** The events exported so far, oldest first. */
  get events(): readonly UsageEvent[] {
    return this.kept;
  }

  reset(): void {
    this.kept.length = 0;
  }
}
