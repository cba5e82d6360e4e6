/**
 * Realistic usage events for the benches: what a product with 5,000 users at 50 customers
 * posts to /v1/events. Six projects with two features each, eight attribution fields on every
 * event (experiment and variant on some), three tags, raw usage objects as the providers
 * return them (OpenAI chat and responses, Anthropic messages with cache reads and writes,
 * Gemini usageMetadata, OpenAI embeddings), agent runs of 1–40 calls and a few runaway runs,
 * mostly ok with some errors, latency and time to first token. About 640 bytes of JSON each.
 *
 * Seeded: the same seed, size and end time give the same events. Two clocks: `month` spreads
 * the events over the 30 days before `endMs` in time order, with a daily and weekly rhythm (a
 * month of history arriving in order); `live` stamps each event with the present (traffic as
 * it happens).
 */

export interface RealisticOptions {
  readonly seed: number;
  /** Events to yield; `month` spreads exactly this many over the month. */
  readonly events: number;
  readonly clock: "month" | "live";
  /** The month's end, epoch ms (`month` only); no event is later. */
  readonly endMs?: number;
  /** Keeps ids unique between streams of one run: a few letters and digits. */
  readonly idPrefix: string;
}

const DAY_MS = 86_400_000;
export const MONTH_MS = 30 * DAY_MS;
export const USERS = 5_000;
export const CUSTOMERS = 50;

type Rand = () => number;

/** mulberry32: small, fast and seedable; ample for synthetic traffic. */
function prng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
/** Token counts, latencies and run lengths have long right tails. */
const lognormal = (r: Rand, median: number, sigma: number) =>
  median * Math.exp(sigma * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-9))) * Math.cos(2 * Math.PI * r()));
const int = (n: number) => Math.max(1, Math.round(n));

interface Call {
  readonly provider: string;
  readonly model: string;
  readonly api: string;
  readonly raw_usage: Record<string, unknown>;
  /** Median latency, ms. */
  readonly latency: number;
}

const openaiChat = (model: string, prompt: number, cached: number, completion: number, reasoning: number): Call => ({
  provider: "openai",
  model,
  api: "openai.chat",
  raw_usage: {
    prompt_tokens: prompt,
    completion_tokens: completion + reasoning,
    total_tokens: prompt + completion + reasoning,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  latency: 900 + completion * 8 + reasoning * 4,
});

const openaiResponses = (model: string, input: number, cached: number, output: number, reasoning: number): Call => ({
  provider: "openai",
  model,
  api: "openai.responses",
  raw_usage: {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output + reasoning,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + output + reasoning,
  },
  latency: 1500 + output * 10 + reasoning * 5,
});

const anthropic = (model: string, input: number, read: number, write: number, output: number): Call => ({
  provider: "anthropic",
  model,
  api: "anthropic.messages",
  raw_usage: {
    input_tokens: input,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: write, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: "standard",
  },
  latency: 1200 + output * 12,
});

const gemini = (model: string, prompt: number, cached: number, candidates: number, thoughts: number): Call => ({
  provider: "google",
  model,
  api: "gemini",
  raw_usage: {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + thoughts,
    ...(cached > 0 && { cachedContentTokenCount: cached }),
    ...(thoughts > 0 && { thoughtsTokenCount: thoughts }),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
  },
  latency: 700 + candidates * 6 + thoughts * 3,
});

/** Prompt caching: a share of long prompts reuses a cached prefix in 1,024-token steps. */
const cachedPart = (r: Rand, prompt: number, share: number) => (r() < share ? Math.floor((prompt * 0.8) / 1024) * 1024 : 0);

interface Feature {
  readonly name: string;
  readonly project: string;
  readonly team: string;
  readonly weight: number;
  /** Median calls per run; runs are 1–40 calls. */
  readonly runMedian: number;
  readonly promptVersions: readonly string[];
  readonly call: (r: Rand, step: number) => Call;
}

const FEATURES: readonly Feature[] = [
  {
    name: "support-chat",
    project: "support-bot",
    team: "support",
    weight: 22,
    runMedian: 3,
    promptVersions: ["v11", "v12"],
    call: (r) => {
      const p = int(lognormal(r, 2400, 0.5));
      return openaiChat("gpt-4o-mini", p, cachedPart(r, p, 0.7), int(lognormal(r, 220, 0.6)), 0);
    },
  },
  {
    name: "draft-reply",
    project: "support-bot",
    team: "support",
    weight: 14,
    runMedian: 2,
    promptVersions: ["v7", "v8"],
    call: (r) => {
      const input = int(lognormal(r, 3600, 0.4));
      const read = r() < 0.6 ? int(input * 0.6) : 0;
      return anthropic("claude-sonnet-4-5-20250929", input - read, read, r() < 0.1 ? 1200 : 0, int(lognormal(r, 380, 0.5)));
    },
  },
  {
    name: "email-writer",
    project: "sales-copilot",
    team: "growth",
    weight: 8,
    runMedian: 2,
    promptVersions: ["v3"],
    call: (r) => anthropic("claude-haiku-4-5", int(lognormal(r, 1800, 0.5)), 0, 0, int(lognormal(r, 450, 0.4))),
  },
  {
    name: "lead-enrichment",
    project: "sales-copilot",
    team: "growth",
    weight: 6,
    runMedian: 8,
    promptVersions: ["v2", "v3"],
    call: (r) => {
      const input = int(lognormal(r, 2500, 0.6));
      return openaiResponses("gpt-5-mini", input, cachedPart(r, input, 0.5), int(lognormal(r, 300, 0.5)), int(lognormal(r, 600, 0.8)));
    },
  },
  {
    name: "code-review-agent",
    project: "dev-tools",
    team: "platform",
    weight: 9,
    runMedian: 10,
    promptVersions: ["v4", "v5"],
    call: (r, step) => {
      const input = int(lognormal(r, 6000 + step * 400, 0.3));
      const read = step > 0 ? int(input * 0.75) : 0;
      return anthropic("claude-sonnet-4-5-20250929", input - read, read, step === 0 ? 2000 : 0, int(lognormal(r, 450, 0.5)));
    },
  },
  {
    name: "sql-assistant",
    project: "dev-tools",
    team: "platform",
    weight: 4,
    runMedian: 4,
    promptVersions: ["v1"],
    call: (r) => {
      const input = int(lognormal(r, 3500, 0.5));
      return openaiResponses("o3", input, cachedPart(r, input, 0.4), int(lognormal(r, 500, 0.5)), int(lognormal(r, 1300, 0.6)));
    },
  },
  {
    name: "semantic-search",
    project: "search",
    team: "data",
    weight: 12,
    runMedian: 1,
    promptVersions: ["v1"],
    call: (r) => {
      const t = int(lognormal(r, 600, 0.6));
      return {
        provider: "openai",
        model: "text-embedding-3-small",
        api: "openai.embeddings",
        raw_usage: { prompt_tokens: t, total_tokens: t },
        latency: 120,
      };
    },
  },
  {
    name: "answer-synthesis",
    project: "search",
    team: "data",
    weight: 8,
    runMedian: 2,
    promptVersions: ["v5", "v6"],
    call: (r) => {
      const p = int(lognormal(r, 4000, 0.7));
      return gemini(
        "gemini-2.5-flash",
        p,
        r() < 0.3 ? int(p * 0.5) : 0,
        int(lognormal(r, 300, 0.4)),
        r() < 0.4 ? int(lognormal(r, 500, 0.6)) : 0,
      );
    },
  },
  {
    name: "doc-qa",
    project: "docs-assistant",
    team: "support",
    weight: 6,
    runMedian: 3,
    promptVersions: ["v2"],
    call: (r) => {
      const p = int(lognormal(r, 9000, 0.6));
      return gemini("gemini-2.5-pro", p, r() < 0.5 ? int(p * 0.7) : 0, int(lognormal(r, 400, 0.5)), int(lognormal(r, 800, 0.6)));
    },
  },
  {
    name: "summarize-page",
    project: "docs-assistant",
    team: "support",
    weight: 5,
    runMedian: 1,
    promptVersions: ["v4"],
    call: (r) => {
      const p = int(lognormal(r, 5000, 0.5));
      return openaiChat("gpt-4o-2024-08-06", p, cachedPart(r, p, 0.3), int(lognormal(r, 350, 0.4)), 0);
    },
  },
  {
    name: "report-narrator",
    project: "analytics",
    team: "data",
    weight: 3,
    runMedian: 5,
    promptVersions: ["v1", "v2"],
    call: (r) => {
      const input = int(lognormal(r, 7000, 0.5));
      return openaiResponses("gpt-5", input, cachedPart(r, input, 0.6), int(lognormal(r, 900, 0.5)), int(lognormal(r, 1500, 0.7)));
    },
  },
  {
    name: "anomaly-explainer",
    project: "analytics",
    team: "data",
    weight: 3,
    runMedian: 3,
    promptVersions: ["v3"],
    call: (r) => openaiChat("o3-mini", int(lognormal(r, 1500, 0.5)), 0, int(lognormal(r, 250, 0.5)), int(lognormal(r, 900, 0.7))),
  },
];
const TOTAL_WEIGHT = FEATURES.reduce((s, f) => s + f.weight, 0);
const RUNAWAY = FEATURES.find((f) => f.name === "code-review-agent") as Feature;

const QUEUES = ["default", "billing", "priority", "batch", "realtime", "backfill", "eval", "internal"] as const;
const REGIONS = ["us-east", "us-east", "us-west", "eu-west", "ap-south"] as const;
const ERRORS = ["rate_limited", "timeout", "server_error", "context_length_exceeded"] as const;

/** Busier on weekday afternoons (UTC), quiet at night and at weekends. */
function activity(ms: number): number {
  const d = new Date(ms);
  const hour = d.getUTCHours() + d.getUTCMinutes() / 60;
  const weekday = d.getUTCDay() >= 1 && d.getUTCDay() <= 5 ? 1 : 0.4;
  return weekday * (0.2 + Math.exp(-((hour - 15) ** 2) / 18));
}

/**
 * Start times for `n` positions spread over the month by `activity`, in order: the inverse of
 * the month's cumulative activity, a minute at a time.
 */
function monthClock(r: Rand, n: number, endMs: number): (position: number) => number {
  const start = endMs - MONTH_MS;
  const minutes = MONTH_MS / 60_000;
  const cumulative = new Float64Array(minutes + 1);
  for (let m = 0; m < minutes; m++) cumulative[m + 1] = (cumulative[m] as number) + activity(start + m * 60_000);
  const total = cumulative[minutes] as number;
  let minute = 0;
  return (position) => {
    const target = (position / n) * total;
    while (minute < minutes - 1 && (cumulative[minute + 1] as number) <= target) minute++;
    return start + minute * 60_000 + Math.floor(r() * 60_000);
  };
}

/** Yields events as objects ready for JSON.stringify, a run's calls one after another. */
export function* realisticEvents(opts: RealisticOptions): Generator<Record<string, unknown>> {
  const r = prng(opts.seed);
  const endMs = opts.endMs ?? Date.now();
  const clock = opts.clock === "month" ? monthClock(r, opts.events, endMs) : () => Date.now() - Math.floor(r() * 2000);
  // A few users do most of the calling, as in any product; each belongs to one customer.
  const userCustomer = Array.from({ length: USERS }, () => Math.floor(r() * CUSTOMERS));
  const tierOf = Array.from({ length: CUSTOMERS }, () => (r() < 0.2 ? "enterprise" : r() < 0.7 ? "pro" : "free"));
  // Three runaway loops a month, at random points of the stream.
  const runaways = [0.23, 0.61, 0.88].map((x) => Math.floor(x * opts.events));
  const runawayCalls = Math.min(5_000, Math.max(200, Math.floor(opts.events / 1_000)));
  let n = 0;
  let runs = 0;
  while (n < opts.events) {
    const runaway = runaways.length > 0 && n >= (runaways[0] as number);
    if (runaway) runaways.shift();
    let w = r() * TOTAL_WEIGHT;
    const feature = runaway ? RUNAWAY : (FEATURES.find((f) => (w -= f.weight) < 0) ?? (FEATURES[0] as Feature));
    const length = runaway ? runawayCalls : Math.min(40, int(lognormal(r, feature.runMedian, 0.9)));
    const user = Math.floor(USERS * r() ** 2);
    const customer = userCustomer[user] as number;
    const base = {
      project: feature.project,
      environment: r() < 0.88 ? "prod" : r() < 0.85 ? "staging" : "dev",
      team: feature.team,
      feature: feature.name,
      customer_id: `cust_${String(customer).padStart(3, "0")}`,
      user_id: `user_${String(user).padStart(5, "0")}`,
      agent_run_id: `run_${opts.idPrefix}_${(runs++).toString(36).padStart(7, "0")}`,
      prompt_version: pick(r, feature.promptVersions),
      ...(r() < 0.15 && { experiment_id: "exp_rerank_v2", variant: r() < 0.5 ? "control" : "treatment" }),
    };
    const tags = { queue: pick(r, QUEUES), region: pick(r, REGIONS), tier: tierOf[customer] as string };
    const startMs = clock(n);
    const gapMs = runaway ? 3_000 : int(lognormal(r, 4_000, 0.7));
    for (let step = 0; step < length && n < opts.events; step++, n++) {
      const call = feature.call(r, Math.min(step, 40));
      const failed = r() < 0.03;
      const latency = int(lognormal(r, call.latency, 0.4));
      const streamed = call.api !== "openai.embeddings" && r() < 0.7;
      const ts = opts.clock === "month" ? Math.min(endMs, startMs + step * gapMs) : clock(n);
      yield {
        id: `evt_${opts.idPrefix}_${n.toString(36).padStart(8, "0")}`,
        timestamp: new Date(ts).toISOString(),
        ...base,
        provider: call.provider,
        model: call.model,
        api: call.api,
        raw_usage: call.raw_usage,
        status: failed ? "error" : "ok",
        ...(failed && { error_type: pick(r, ERRORS) }),
        latency_ms: latency,
        ...(streamed && { ttft_ms: int(latency * (0.1 + 0.3 * r())) }),
        tags,
      };
    }
  }
}
