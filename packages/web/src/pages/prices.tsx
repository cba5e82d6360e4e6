import { useQueries, useQuery } from "@tanstack/react-query";
import Big from "big.js";
import { useMemo, useState } from "react";
import { ApiError, api } from "../api/client.js";
import { queries } from "../api/queries.js";
import { useSession } from "../api/session.js";
import { int, localTimeZone, relative, usdExactly, when } from "../components/format.js";
import { Money } from "../components/money.js";
import { Empty, ErrorNote, Loading } from "../components/states.js";
import { useUrlState } from "../components/url-state.js";

interface Correction {
  readonly id: string;
  readonly source_url: string;
  readonly checked_on: string;
}
interface PriceEntry {
  readonly id: string;
  readonly effective_from: string | null;
  readonly rates: Readonly<Record<string, RateValue>>;
  readonly corrections: readonly Correction[];
}
interface ListedModel {
  readonly provider: string;
  readonly model: string;
  readonly source: string;
  readonly entry: PriceEntry;
}
interface ModelPrices {
  readonly in_force: PriceEntry | null;
  readonly models: ReadonlyArray<{
    readonly provider: string;
    readonly model: string;
    readonly source: string;
    readonly entries: readonly PriceEntry[];
  }>;
}
interface Unpriced {
  readonly provider: string;
  readonly model: string;
  readonly requests: number;
  readonly first_seen: string;
  readonly last_seen: string;
  readonly tokens: Readonly<Record<string, number>>;
  readonly estimate: { readonly basis: string; readonly cost_usd: string } | null;
}
interface PriceVersion {
  readonly version: number;
  readonly state: string;
  readonly dry_run: boolean;
  readonly created_at: string;
  readonly created_by: string;
  readonly reason: string;
  readonly events_changed: number;
  readonly recorded_cost_usd: string | null;
  readonly current_cost_usd: string | null;
  readonly difference_usd: string | null;
}

const DAY = 86_400_000;
/** A published rate: one price, or a base price with tiers that start at a prompt size (long context). */
type RateValue = string | { readonly base: string; readonly tiers: ReadonlyArray<{ readonly start: number; readonly price: string }> };

/** Rate keys as people read them; `_mtok` rates are per million tokens, `_kcount` per thousand, `_count` each. */
const RATE_NAMES: Record<string, string> = {
  input_mtok: "Input",
  cache_read_mtok: "Cache read",
  cache_write_mtok: "Cache write",
  cache_write_1h_mtok: "Cache write (1h)",
  output_mtok: "Output",
  output_reasoning_mtok: "Reasoning",
  input_audio_mtok: "Audio in",
  cache_audio_read_mtok: "Cached audio",
  output_audio_mtok: "Audio out",
  input_image_mtok: "Image in",
  output_image_mtok: "Image out",
  requests_kcount: "Requests",
  web_searches_kcount: "Web searches",
  file_searches_kcount: "File searches",
  code_interpreter_sessions_kcount: "Code interpreter",
  tool_calls_kcount: "Tool calls",
  pages_kcount: "Pages",
  images_count: "Images",
  seconds_count: "Seconds",
};

function unitOf(key: string): string {
  return key.endsWith("_mtok") ? "/M" : key.endsWith("_kcount") ? "/1k" : " each";
}

function RateText({ value, unit }: { value: RateValue; unit: string }) {
  if (typeof value === "string") return <>{`${usdExactly(value)}${unit}`}</>;
  return (
    <>
      {`${usdExactly(value.base)}${unit}`}
      {value.tiers.map((t) => (
        <span key={t.start} className="muted">{`, ${usdExactly(t.price)} past ${int(t.start)} tokens`}</span>
      ))}
    </>
  );
}

/** Every rate of an entry, exactly as published (no rounding: a rate is not an amount). */
function Rates({ rates }: { rates: Readonly<Record<string, RateValue>> }) {
  return (
    <span className="small rates">
      {Object.entries(rates).map(([k, v], i) => (
        <span key={k}>
          {i > 0 && " · "}
          {RATE_NAMES[k] ?? k} <RateText value={v} unit={unitOf(k)} />
        </span>
      ))}
    </span>
  );
}

function Source({ entry, source }: { entry: PriceEntry; source: string }) {
  return (
    <span className="small">
      {source}
      {entry.effective_from ? `, since ${entry.effective_from}` : ""}
      {entry.corrections.map((c) => (
        <span key={c.id}>
          {" · corrected: "}
          <a href={c.source_url} target="_blank" rel="noreferrer noopener">
            {c.id}
          </a>{" "}
          <span className="muted">(checked {c.checked_on})</span>
        </span>
      ))}
    </span>
  );
}

/** The models spend went to lately, each with the entry that prices it now, where it comes from and what corrected it. */
function ModelsInUse({ from, to }: { from: string; to: string }) {
  const used = useQuery(
    queries.rollup({
      metrics: ["cost_usd", "requests", "unpriced_requests"],
      group_by: ["provider", "model"],
      from,
      to,
      time_zone: localTimeZone(),
      order_by: [{ metric: "requests", desc: true }],
      limit: 50,
      other: false,
    }),
  );
  const prices = useQueries({
    // A model none of whose calls were priced has no entry to look up (and the lookup would be a 404).
    queries: (used.data ?? []).map((r) => ({
      enabled: Number(r.unpriced_requests ?? 0) < Number(r.requests ?? 0),
      queryKey: ["price", r.provider, r.model],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api
          .get<ModelPrices>(
            `/v1/prices/${encodeURIComponent(String(r.provider))}/${String(r.model).split("/").map(encodeURIComponent).join("/")}`,
            signal,
          )
          .catch((e) => {
            if (e instanceof ApiError && e.code === "CT_PRICE_NOT_FOUND") return null;
            throw e;
          }),
      retry: false,
    })),
  });
  return (
    <section className="card" data-section="models-in-use">
      <div className="card-head">
        <h2>Models in use</h2>
        <span className="hint">The last 30 days, with the price in force now</span>
      </div>
      {used.isPending ? (
        <Loading height={200} />
      ) : used.isError ? (
        <ErrorNote error={used.error} retry={() => void used.refetch()} />
      ) : used.data.length === 0 ? (
        <Empty title="No calls in the last 30 days" />
      ) : (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Model</th>
                <th className="num">Calls</th>
                <th className="num">Cost</th>
                <th>Price in force</th>
                <th>Source</th>
              </tr>
            </thead>
            <tbody>
              {used.data.map((r, i) => {
                const p = prices[i]?.data;
                const entry = p?.in_force ?? null;
                return (
                  <tr key={`${r.provider}/${r.model}`} data-model={`${r.provider}/${r.model}`}>
                    <td>
                      {String(r.model)} <span className="muted small">{String(r.provider)}</span>
                    </td>
                    <td className="num">{int(r.requests)}</td>
                    <td className="num">
                      <Money value={r.cost_usd} />
                    </td>
                    <td>
                      {prices[i]?.isPending && Number(r.unpriced_requests ?? 0) < Number(r.requests ?? 0) ? (
                        <span className="muted small">…</span>
                      ) : entry ? (
                        <Rates rates={entry.rates} />
                      ) : (
                        <span className="badge warn">no price</span>
                      )}
                    </td>
                    <td>
                      {entry && p ? (
                        <Source entry={entry} source={p.models.find((m) => m.entries.some((e) => e.id === entry.id))?.source ?? ""} />
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function UnpricedModels({ highlight }: { highlight: string | null }) {
  const q = useQuery({
    queryKey: ["unpriced"],
    queryFn: ({ signal }) => api.get<{ models: Unpriced[] }>("/v1/prices/unpriced", signal).then((r) => r.models),
  });
  return (
    <section className="card" data-section="unpriced">
      <div className="card-head">
        <h2>Models seen without a price</h2>
        <span className="hint">Their calls count no cost until a price is added and the history re-priced</span>
      </div>
      {q.isPending ? (
        <Loading height={120} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : q.data.length === 0 ? (
        <Empty title="Every model seen has a price" />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th className="num">Calls</th>
              <th className="num">Tokens</th>
              <th>Seen</th>
              <th>Estimate</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((m) => (
              <tr
                key={`${m.provider}/${m.model}`}
                data-unpriced={`${m.provider}/${m.model}`}
                aria-current={highlight === `${m.provider}/${m.model}` ? "true" : undefined}
              >
                <td>
                  {m.model} <span className="muted small">{m.provider}</span>
                </td>
                <td className="num">{int(m.requests)}</td>
                <td className="num">{int(Object.values(m.tokens).reduce((a, b) => a + b, 0))}</td>
                <td className="small">
                  {relative(m.first_seen)} to {relative(m.last_seen)}
                </td>
                <td className="small">
                  {m.estimate ? (
                    <>
                      about <Money value={m.estimate.cost_usd} /> at {m.estimate.basis}'s rate
                    </>
                  ) : (
                    <span className="muted">no similar model to estimate from</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Where a re-pricing changed history: each model's cost as recorded beside as priced now. */
function RecordedVsCurrent({ from, to, isAdmin }: { from: string; to: string; isAdmin: boolean }) {
  const base = { metrics: ["cost_usd"], group_by: ["model"], from, to, time_zone: localTimeZone() };
  const recorded = useQuery(queries.rollup({ ...base, pricing: "recorded" }));
  const current = useQuery(queries.rollup({ ...base, pricing: "current" }));
  const versions = useQuery({
    queryKey: ["reprice-versions"],
    queryFn: ({ signal }) => api.get<{ versions: PriceVersion[] }>("/v1/reprice", signal).then((r) => r.versions),
    enabled: isAdmin,
  });
  const diffs = useMemo(() => {
    if (!recorded.data || !current.data) return null;
    const now = new Map(current.data.map((r) => [String(r.model), r.cost_usd]));
    return recorded.data
      .map((r) => ({ model: String(r.model), recorded: r.cost_usd, current: now.get(String(r.model)) ?? null }))
      .filter((d) => String(d.recorded ?? "") !== String(d.current ?? ""))
      .map((d) => ({ ...d, difference: new Big(String(d.current ?? "0")).minus(String(d.recorded ?? "0")).toFixed() }));
  }, [recorded.data, current.data]);
  return (
    <section className="card" data-section="recorded-vs-current">
      <div className="card-head">
        <h2>Recorded and current pricing</h2>
        <span className="hint">The last 30 days: as each call was priced, and after re-pricing</span>
      </div>
      {recorded.isPending || current.isPending ? (
        <Loading height={100} />
      ) : recorded.isError || current.isError ? (
        <ErrorNote error={recorded.error ?? current.error} />
      ) : !diffs || diffs.length === 0 ? (
        <Empty title="Recorded and current pricing agree">No re-pricing has changed a cost in this range.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th className="num">Recorded</th>
              <th className="num">Current</th>
              <th className="num">Difference</th>
            </tr>
          </thead>
          <tbody>
            {diffs.map((d) => (
              <tr key={d.model}>
                <td>{d.model}</td>
                <td className="num">
                  <Money value={d.recorded} />
                </td>
                <td className="num">
                  <Money value={d.current} />
                </td>
                <td className="num">
                  <Money value={d.difference} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && versions.data && versions.data.length > 0 && (
        <ul className="list" style={{ marginTop: 12 }}>
          {versions.data.map((v) => (
            <li key={v.version} className="small">
              Version {v.version} · {v.state}
              {v.dry_run ? " (dry run)" : ""} · {when(v.created_at)} by {v.created_by}: “{v.reason}” · {int(v.events_changed)} events
              changed
              {v.difference_usd !== null && (
                <>
                  {" "}
                  · <Money value={v.difference_usd} />
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function RateCard() {
  const q = useQuery({
    queryKey: ["prices"],
    queryFn: ({ signal }) => api.get<{ at: string; data_source: string; models: ListedModel[] }>("/v1/prices", signal),
    staleTime: 300_000,
  });
  const [find, setFind] = useState("");
  const matches = useMemo(() => {
    const needle = find.trim().toLowerCase();
    return (q.data?.models ?? []).filter((m) => needle === "" || `${m.provider}/${m.model}`.toLowerCase().includes(needle));
  }, [q.data, find]);
  return (
    <section className="card" data-section="rate-card">
      <div className="card-head">
        <h2>The rate card in force</h2>
        <input type="search" placeholder="Find a model" value={find} onChange={(e) => setFind(e.target.value)} aria-label="Find a model" />
      </div>
      {q.isPending ? (
        <Loading height={200} />
      ) : q.isError ? (
        <ErrorNote error={q.error} retry={() => void q.refetch()} />
      ) : (
        <>
          <p className="small muted" style={{ marginTop: 0 }}>
            {int(q.data.models.length)} models from {q.data.data_source}, with corrections and the server's configured models, as of{" "}
            {when(q.data.at)}.{matches.length > 100 && ` Showing 100 of ${int(matches.length)} matches.`}
          </p>
          {matches.length === 0 ? (
            <Empty title="No model matches" />
          ) : (
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>Rates</th>
                    <th>Source</th>
                  </tr>
                </thead>
                <tbody>
                  {matches.slice(0, 100).map((m) => (
                    <tr key={`${m.provider}/${m.model}`}>
                      <td>
                        {m.model} <span className="muted small">{m.provider}</span>
                      </td>
                      <td>
                        <Rates rates={m.entry.rates} />
                      </td>
                      <td>
                        <Source entry={m.entry} source={m.source} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

export function PricesPage() {
  const { state } = useSession();
  const isAdmin = state.status === "signed-in" && state.who.key.scopes.includes("admin");
  const [params] = useUrlState();
  const [now] = useState(() => Date.now());
  const from = new Date(now - 30 * DAY).toISOString();
  const to = new Date(now).toISOString();
  const highlight = params.get("provider") && params.get("model") ? `${params.get("provider")}/${params.get("model")}` : null;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Prices</h1>
          <p>What each call is priced at, where the price comes from, and what has no price yet.</p>
        </div>
      </div>
      <div className="stack">
        <UnpricedModels highlight={highlight} />
        <ModelsInUse from={from} to={to} />
        <RecordedVsCurrent from={from} to={to} isAdmin={isAdmin} />
        <RateCard />
      </div>
    </>
  );
}
