import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Fixture {
  source: string;
  api: string;
  model: string;
  body?: Record<string, unknown>;
  events?: Array<{ event?: string; data?: Record<string, unknown> } & Record<string, unknown>>;
  attributes?: Record<string, unknown>;
}

/** A recorded provider response from test/fixtures (see test/fixtures/README.md for sources). */
export function fixture(name: string): Fixture {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/${name}.json`, import.meta.url)), "utf8")) as Fixture;
}

/** The data object of each stream event, whether stored as {event, data} or bare. */
export function eventData(f: Fixture): Array<Record<string, unknown>> {
  return (f.events ?? []).map((e) => (e.data && typeof e.data === "object" ? e.data : e) as Record<string, unknown>);
}
