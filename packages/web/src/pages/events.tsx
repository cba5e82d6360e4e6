import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useLocation } from "wouter";
import { api } from "../api/client.js";
import { isDimension } from "../api/dimensions.js";
import { FilterAdder, FilterChips } from "../components/filters.js";
import { int, when } from "../components/format.js";
import { Money } from "../components/money.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

const PAGE = 50;
const DAY = 86_400_000;

export type EventRecord = Record<string, unknown> & { id: string; timestamp: string };

function tokens(e: EventRecord): number {
  let n = 0;
  for (const [k, v] of Object.entries(e)) if (k.endsWith("_tokens") && typeof v === "number") n += v;
  return n;
}

/** The link to one event: its time goes along, so the server looks at that instant only. */
export function eventHref(e: { id: string; timestamp: string }): string {
  return `/events/${encodeURIComponent(e.id)}?at=${encodeURIComponent(e.timestamp)}`;
}

/** Raw events, newest first, filtered like the explorer; every chart point and table row drills down to here. */
export function EventsPage() {
  const [params, setParams] = useUrlState();
  const [, navigate] = useLocation();
  const [now] = useState(() => Date.now());
  const from = params.get("from") ?? new Date(now - 7 * DAY).toISOString();
  const to = params.get("to") ?? new Date(now).toISOString();
  const filters = useMemo(() => {
    const out: Array<{ column: string; values: string[] }> = [];
    for (const key of new Set(params.keys()))
      if (key !== "from" && key !== "to" && key !== "cursor" && isDimension(key)) out.push({ column: key, values: params.getAll(key) });
    return out;
  }, [params]);
  // Pages go forward by the server's cursor; the ones already seen are kept to go back.
  const [cursors, setCursors] = useState<string[]>([]);
  const [eventId, setEventId] = useState("");
  const cursor = cursors.at(-1) ?? null;
  const qs = new URLSearchParams({ from, to, limit: String(PAGE) });
  for (const f of filters) for (const v of f.values) qs.append(f.column, v);
  if (cursor) qs.set("cursor", cursor);
  const page = useQuery({
    queryKey: ["events", qs.toString()],
    queryFn: ({ signal }) => api.get<{ events: EventRecord[]; next_cursor: string | null }>(`/v1/events?${qs}`, signal),
  });
  const refilter = (change: (p: URLSearchParams) => void) => {
    setCursors([]);
    setParams(change);
  };
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Events</h1>
          <p>
            Every recorded call, newest first, {when(from)} to {when(to)}.
          </p>
        </div>
      </div>
      <div className="stack">
        <section className="card">
          <div className="chips" data-testid="filters">
            <FilterChips filters={filters} onRemove={(c) => refilter((p) => p.delete(c))} />
            <FilterAdder tagKeys={[]} onAdd={(column, value) => refilter((p) => p.append(column, value))} />
            <form
              className="chips"
              style={{ marginLeft: "auto" }}
              onSubmit={(e) => {
                e.preventDefault();
                if (eventId.trim()) navigate(`/events/${encodeURIComponent(eventId.trim())}`);
              }}
            >
              <input value={eventId} onChange={(e) => setEventId(e.target.value)} placeholder="Event id" aria-label="Event id" size={22} />
              <button type="submit" disabled={eventId.trim() === ""}>
                Open
              </button>
            </form>
          </div>
        </section>
        <section className="card">
          {page.isPending ? (
            <Loading height={400} />
          ) : page.isError ? (
            <ErrorNote error={page.error} retry={() => void page.refetch()} />
          ) : page.data.events.length === 0 ? (
            <Empty title="No events match">Widen the time range or remove a filter.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table data-testid="events-table">
                  <thead>
                    <tr>
                      <th>Time</th>
                      <th>Feature</th>
                      <th>Model</th>
                      <th>User</th>
                      <th>Customer</th>
                      <th className="num">Tokens</th>
                      <th className="num">Cost</th>
                      <th>Status</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.events.map((e) => (
                      <tr key={e.id} className="clickable" onClick={() => navigate(eventHref(e))} data-event={e.id}>
                        <td className="nowrap">
                          <Link href={eventHref(e)} onClick={(ev) => ev.stopPropagation()}>
                            {when(e.timestamp)}
                          </Link>
                        </td>
                        <td className="truncate">{String(e.feature ?? "—")}</td>
                        <td className="truncate">{String(e.model ?? "—")}</td>
                        <td className="truncate">{String(e.user_id ?? "—")}</td>
                        <td className="truncate">{String(e.customer_id ?? "—")}</td>
                        <td className="num">{int(tokens(e))}</td>
                        <td className="num">
                          {e.price_status === "unpriced" ? (
                            <span className="badge warn">unpriced</span>
                          ) : (
                            <Money value={String(e.cost_usd ?? "0")} />
                          )}
                        </td>
                        <td>
                          <span className={`badge ${e.status === "ok" ? "" : "bad"}`}>{String(e.status ?? "")}</span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="row" style={{ marginTop: 12 }}>
                <span className="small muted">
                  Page {cursors.length + 1} · {page.data.events.length} events
                </span>
                <span className="row">
                  <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                    Newer
                  </button>
                  <button
                    type="button"
                    disabled={page.data.next_cursor === null}
                    onClick={() => page.data.next_cursor && setCursors((c) => [...c, page.data.next_cursor as string])}
                  >
                    Older
                  </button>
                </span>
              </div>
            </>
          )}
        </section>
      </div>
    </>
  );
}
