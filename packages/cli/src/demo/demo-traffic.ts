/**
 * A month of synthetic LLM traffic that looks like a real product's: hundreds of users,
 * dozens of customers, several features, models and providers, agent runs with a long tail
 * and one runaway loop, a prompt-version change that raises cost per request, retries, and
 * a self-hosted model nobody priced. Seeded, so the same seed makes the same month.
 */

export interface DemoOptions {
  readonly events: number;
  readonly days: number;
  readonly seed: number;
  readonly end: number;
}

/** mulberry32: a small, fast, seedable PRNG; quality is ample for synthetic traffic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
/** Log-normal around `median`: token counts and run lengths have long right tails. */
const lognormal = (r: Rand, median: number, sigma: number) => {
  const u = Math.max(r(), 1e-9);
  const v = r();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
};

const TEAMS = [
  { team: "support", cost_center: "CC-100" },
  { team: "growth", cost_center: "CC-200" },
  { team: "platform", cost_center: "CC-300" },
  { team: "data", cost_center: "CC-400" },
] as const;

interface Feature {
  readonly name: string;
  readonly team: (typeof TEAMS)[number];
  readonly weight: number;
  readonly call: (r: Rand, day: number) => Omit<Call, "feature">;
}

interface Call {
  feature: string;
  provider: string;
  model: string;
  api: string;
  raw_usage: Record<string, unknown>;
  prompt_version?: string;
  latency_ms: number;
  operation?: string;
}

const openaiChat = (prompt: number, cached: number, completion: number, reasoning = 0) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0 },
});
const anthropic = (input: number, read: number, write: number, output: number) => ({
  input_tokens: input,
  cache_read_input_tokens: read,
  cache_creation_input_tokens: write,
  output_tokens: output,
});
const round = (n: number) => Math.max(1, Math.round(n));

const FEATURES: readonly Feature[] = [
  {
    name: "support-chat",
    team: TEAMS[0],
    weight: 30,
    call: (r) => {
      const prompt = round(lognormal(r, 2400, 0.5));
      const cached = r() < 0.7 ? Math.floor((prompt * 0.8) / 1024) * 1024 : 0;
      return {
        provider: "openai",
        model: "gpt-4o-mini",
        api: "openai.chat",
        raw_usage: openaiChat(prompt, cached, round(lognormal(r, 220, 0.6))),
        latency_ms: round(lognormal(r, 900, 0.4)),
        prompt_version: "v3",
      };
    },
  },
  {
    name: "draft-reply",
    team: TEAMS[0],
    weight: 18,
    // Prompt v8 (from day 18 of the month) adds retrieved examples: ~60% more input per request.
    call: (r, day) => {
      const v8 = day >= 18;
      const input = round(lognormal(r, v8 ? 5200 : 3200, 0.4));
      const read = r() < 0.6 ? round(input * 0.5) : 0;
      return {
        provider: "anthropic",
        model: "claude-sonnet-4-5-20250929",
        api: "anthropic.messages",
        raw_usage: anthropic(input - read, read, r() < 0.1 ? 1200 : 0, round(lognormal(r, 380, 0.5))),
        latency_ms: round(lognormal(r, 2600, 0.4)),
        prompt_version: v8 ? "v8" : "v7",
      };
    },
  },
  {
    name: "summarize-ticket",
    team: TEAMS[1],
    weight: 14,
    call: (r) => ({
      provider: "google",
      model: "gemini-2.5-flash",
      api: "gemini",
      raw_usage: {
        promptTokenCount: round(lognormal(r, 4000, 0.7)),
        candidatesTokenCount: round(lognormal(r, 300, 0.4)),
        thoughtsTokenCount: r() < 0.4 ? round(lognormal(r, 500, 0.6)) : 0,
      },
      latency_ms: round(lognormal(r, 1400, 0.4)),
      prompt_version: "v2",
    }),
  },
  {
    name: "semantic-search",
    team: TEAMS[3],
    weight: 22,
    call: (r) => {
      const t = round(lognormal(r, 600, 0.6));
      return {
        provider: "openai",
        model: "text-embedding-3-small",
        api: "openai.embeddings",
        raw_usage: { prompt_tokens: t, total_tokens: t },
        latency_ms: round(lognormal(r, 120, 0.3)),
        operation: "embedding",
      };
    },
  },
  {
    name: "sql-assistant",
    team: TEAMS[3],
    weight: 8,
    call: (r) => ({
      provider: "openai",
      model: "o3",
      api: "openai.responses",
      raw_usage: (() => {
        const out = round(lognormal(r, 1800, 0.6));
        return {
          input_tokens: round(lognormal(r, 3500, 0.5)),
          output_tokens: out,
          output_tokens_details: { reasoning_tokens: Math.floor(out * 0.7) },
        };
      })(),
      latency_ms: round(lognormal(r, 9000, 0.5)),
      prompt_version: "v1",
    }),
  },
  {
    name: "internal-classifier",
    team: TEAMS[2],
    weight: 6,
    // A self-hosted model nobody has priced yet: stored as unpriced, never $0.
    call: (r) => ({
      provider: "acme",
      model: "llama-3-70b-internal",
      api: "openai.chat",
      raw_usage: openaiChat(round(lognormal(r, 900, 0.3)), 0, round(lognormal(r, 20, 0.3))),
      latency_ms: round(lognormal(r, 300, 0.3)),
    }),
  },
];

const AGENT = {
  name: "code-review-agent",
  team: TEAMS[2],
  call: (r: Rand, step: number): Omit<Call, "feature"> => {
    const onBedrock = r() < 0.3;
    const input = round(lognormal(r, 6000 + step * 400, 0.3));
    const read = step > 0 ? round(input * 0.75) : 0;
    const output = round(lognormal(r, 450, 0.5));
    return onBedrock
      ? {
          provider: "bedrock",
          model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
          api: "bedrock.converse",
          raw_usage: {
            inputTokens: input - read,
            cacheReadInputTokens: read,
            cacheWriteInputTokens: 0,
            outputTokens: output,
            totalTokens: input + output,
          },
          latency_ms: round(lognormal(r, 3500, 0.4)),
          prompt_version: "v4",
        }
      : {
          provider: "anthropic",
          model: "claude-haiku-4-5",
          api: "anthropic.messages",
          raw_usage: anthropic(input - read, read, step === 0 ? 2000 : 0, output),
          latency_ms: round(lognormal(r, 1800, 0.4)),
          prompt_version: "v4",
        };
  },
};

/** Diurnal and weekly shape: busier on weekday afternoons (UTC), quiet at night and weekends. */
function activity(ms: number): number {
  const d = new Date(ms);
  const hour = d.getUTCHours() + d.getUTCMinutes() / 60;
  const weekday = d.getUTCDay() >= 1 && d.getUTCDay() <= 5 ? 1 : 0.35;
  return weekday * (0.25 + Math.exp(-((hour - 15) ** 2) / 18));
}

/** Yields the month's events in time order (what apps would have posted to /v1/events). */
export function* demoEvents(opts: DemoOptions): Generator<Record<string, unknown>> {
  const r = prng(opts.seed);
  const start = opts.end - opts.days * 86_400_000;
  const users = Array.from({ length: 320 }, (_, i) => `u_${1000 + i}`);
  const customers = Array.from({ length: 42 }, (_, i) => `cust_${String(i + 1).padStart(3, "0")}`);
  const userCustomer = new Map(users.map((u) => [u, pick(r, customers)]));
  const weights = FEATURES.reduce((s, f) => s + f.weight, 0);
  const agentShare = 0.035;
  const runawayAt = start + Math.floor(opts.days * 0.7) * 86_400_000 + 14 * 3_600_000;
  const runawayCalls = Math.min(1500, Math.floor(opts.events * 0.05));
  let n = 0;
  let seq = 0;
  // Ids carry the seed and the end time: the same seed and end give the same events (a re-run is
  // all duplicates); another end time is another month.
  const idPrefix = `demo_${opts.seed}_${Math.floor(opts.end / 1000).toString(36)}`;
  const id = () => `${idPrefix}_${(seq++).toString(36)}`;
  const emit = (
    ts: number,
    f: string,
    team: (typeof TEAMS)[number],
    user: string,
    call: Omit<Call, "feature">,
    extra: Record<string, unknown> = {},
  ) => {
    const failed = r() < 0.025;
    const base = {
      timestamp: new Date(ts).toISOString(),
      project: f === "code-review-agent" || f === "sql-assistant" ? "dev-tools" : "support-bot",
      environment: r() < 0.9 ? "prod" : "staging",
      team: team.team,
      cost_center: team.cost_center,
      user_id: user,
      customer_id: userCustomer.get(user),
      feature: f,
      provider: call.provider,
      model: call.model,
      api: call.api,
      raw_usage: call.raw_usage,
      latency_ms: call.latency_ms,
      ...(call.prompt_version && { prompt_version: call.prompt_version }),
      ...(call.operation && { operation: call.operation }),
      tags: { region: pick(r, ["us-east", "us-east", "eu-west", "ap-south"]), plan: r() < 0.2 ? "enterprise" : "pro" },
      ...extra,
    };
    const out: Array<Record<string, unknown>> = [];
    if (failed) {
      // A failed attempt is billed for its input; the retry is its own event.
      out.push({ ...base, id: id(), status: "error", error_type: pick(r, ["rate_limited", "timeout", "server_error"]), attempt: 1 });
      out.push({ ...base, id: id(), timestamp: new Date(ts + 1500).toISOString(), status: "ok", attempt: 2 });
    } else out.push({ ...base, id: id(), status: "ok", attempt: 1 });
    return out;
  };

  const budget = opts.events - runawayCalls;
  let runawayDone = false;
  let debt = 0;
  // Walk time forward in small steps, drawing a number of calls proportional to activity.
  const steps = opts.days * 24 * 12;
  let totalActivity = 0;
  for (let i = 0; i < steps; i++) totalActivity += activity(start + i * 300_000);
  for (let i = 0; i < steps && n < opts.events; i++) {
    const t0 = start + i * 300_000;
    if (!runawayDone && t0 >= runawayAt) {
      runawayDone = true;
      const run = `run_runaway_${opts.seed}`;
      for (let k = 0; k < runawayCalls && n < opts.events; k++) {
        for (const e of emit(t0 + k * 4_000, AGENT.name, AGENT.team, "u_1007", AGENT.call(r, Math.min(k, 40)), {
          agent_run_id: run,
          tags: { region: "us-east", plan: "pro", loop: "true", agent: AGENT.name },
        })) {
          n++;
          yield e;
        }
      }
    }
    let calls = (budget * activity(t0)) / totalActivity;
    // An agent run may take more events than its step drew: the next steps draw that much less,
    // so the month's events last to its end instead of running out a day or two early.
    calls = Math.floor(calls) + (r() < calls % 1 ? 1 : 0) + debt;
    while (calls > 0 && n < opts.events) {
      const ts = t0 + Math.floor(r() * 300_000);
      const user = pick(r, users);
      if (r() < agentShare) {
        // An agent run: mostly a handful of calls, sometimes dozens (log-normal tail).
        const run = `run_${id()}`;
        const length = Math.min(30, round(lognormal(r, 4, 0.9)));
        for (let k = 0; k < length && n < opts.events; k++) {
          for (const e of emit(ts + k * 6_000, AGENT.name, AGENT.team, user, AGENT.call(r, k), {
            agent_run_id: run,
            tags: { region: pick(r, ["us-east", "eu-west"]), plan: "pro", agent: AGENT.name },
          })) {
            n++;
            calls--;
            yield e;
          }
        }
        continue;
      }
      let w = r() * weights;
      const f = FEATURES.find((x) => (w -= x.weight) < 0) ?? (FEATURES[0] as Feature);
      const day = Math.floor((ts - start) / 86_400_000);
      for (const e of emit(ts, f.name, f.team, user, f.call(r, day))) {
        n++;
        calls--;
        yield e;
      }
    }
    debt = Math.min(0, calls);
  }
}
