import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useParams, useSearch } from "wouter";
import { api } from "../api/client.js";
import { ATTRIBUTION, dimensionLabel } from "../api/dimensions.js";
import { int, when } from "../components/format.js";
import { Money } from "../components/money.js";
import { ErrorNote, Loading } from "../components/states.js";
import type { EventRecord } from "./events.js";

const GROUPS: ReadonlyArray<{ title: string; fields: readonly string[] }> = [
  {
    title: "Call",
    fields: [
      "id",
      "timestamp",
      "provider",
      "model",
      "api",
      "operation",
      "service_tier",
      "batch",
      "status",
      "error_type",
      "attempt",
      "latency_ms",
      "ttft_ms",
    ],
  },
  {
    // The attribution columns but the key id, which names a key and not who spent.
    title: "Attribution",
    fields: ATTRIBUTION.filter((c) => c !== "api_key_id"),
  },
  { title: "Price", fields: ["cost_usd", "computed_cost_usd", "provider_cost_usd", "cost_source", "price_status", "rate_card_entry"] },
];
const MONEY = new Set(["cost_usd", "computed_cost_usd", "provider_cost_usd"]);
/** Attribution values that open the events sharing them. */
const LINKED = new Set(["agent_run_id", "trace_id", "user_id", "customer_id", "feature"]);

function Field({ name, value }: { name: string; value: unknown }) {
  let shown: ReactNode;
  if (value === null || value === undefined || value === "") shown = <span className="muted">—</span>;
  else if (MONEY.has(name)) shown = <Money value={String(value)} />;
  else if (name === "timestamp") shown = `${when(String(value))} (${String(value)})`;
  else if (typeof value === "number") shown = name.endsWith("_ms") ? `${int(value)} ms` : int(value);
  else if (LINKED.has(name))
    shown = <Link href={`/events?${new URLSearchParams({ [name]: String(value), from: "2000-01-01T00:00:00Z" })}`}>{String(value)}</Link>;
  else shown = String(value);
  return (
    <>
      <dt>{name === "id" ? "Event id" : dimensionLabel(name)}</dt>
      <dd className={typeof value === "string" && value.length > 24 ? "mono" : undefined} data-field={name}>
        {shown}
      </dd>
    </>
  );
}

/** One event: every field the ledger holds, the token buckets it was priced on, and the provider's raw usage as received. */
export function EventPage() {
  const { id } = useParams<{ id: string }>();
  const at = new URLSearchParams(useSearch()).get("at");
  const q = useQuery({
    queryKey: ["event", id, at],
    queryFn: ({ signal }) =>
      api.get<EventRecord>(`/v1/events/${encodeURIComponent(id ?? "")}${at ? `?at=${encodeURIComponent(at)}` : ""}`, signal),
  });
  if (q.isPending) return <Loading height={400} />;
  if (q.isError)
    return (
      <div className="card">
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      </div>
    );
  const e = q.data;
  const buckets = Object.entries(e).filter(([k, v]) => k.endsWith("_tokens") && typeof v === "number") as Array<[string, number]>;
  const known = new Set([...GROUPS.flatMap((g) => g.fields), ...buckets.map(([k]) => k), "tags", "raw_usage", "usage"]);
  const other = Object.entries(e).filter(([k]) => !known.has(k));
  return (
    <>
      <div className="page-head">
        <div>
          <h1>
            {String(e.model ?? "Event")} <span className="muted">· {String(e.feature ?? e.api ?? "")}</span>
          </h1>
          <p>
            {when(e.timestamp)} · <Money value={String(e.cost_usd ?? "0")} />
          </p>
        </div>
        <Link
          href={`/events?${new URLSearchParams({ from: new Date(Date.parse(e.timestamp) - 3_600_000).toISOString(), to: new Date(Date.parse(e.timestamp) + 3_600_000).toISOString() })}`}
        >
          Events around this one
        </Link>
      </div>
      <div className="grid two">
        {GROUPS.map((g) => (
          <section className="card" key={g.title}>
            <div className="card-head">
              <h2>{g.title}</h2>
            </div>
            <dl className="fields">
              {g.fields.map((f) => (
                <Field key={f} name={f} value={e[f]} />
              ))}
            </dl>
          </section>
        ))}
        <section className="card">
          <div className="card-head">
            <h2>Tokens by bucket</h2>
          </div>
          <dl className="fields" data-testid="buckets">
            {buckets.length === 0 ? (
              <span className="muted">No tokens (a non-token call)</span>
            ) : (
              buckets.map(([k, v]) => <Field key={k} name={k} value={v} />)
            )}
            {other.map(([k, v]) => (
              <Field key={k} name={k} value={typeof v === "object" ? JSON.stringify(v) : v} />
            ))}
          </dl>
        </section>
        <section className="card">
          <div className="card-head">
            <h2>Tags</h2>
          </div>
          <dl className="fields" data-testid="tags">
            {Object.keys((e.tags as object | null) ?? {}).length === 0 ? (
              <span className="muted">No tags</span>
            ) : (
              Object.entries(e.tags as Record<string, string>).map(([k, v]) => <Field key={k} name={`tag.${k}`} value={v} />)
            )}
          </dl>
        </section>
        <section className="card">
          <div className="card-head">
            <h2>Raw provider usage</h2>
            <span className="hint">As received</span>
          </div>
          <pre className="raw" data-testid="raw-usage">
            {e.raw_usage === undefined || e.raw_usage === null
              ? "None: the caller sent token buckets"
              : JSON.stringify(e.raw_usage, null, 2)}
          </pre>
        </section>
      </div>
    </>
  );
}
