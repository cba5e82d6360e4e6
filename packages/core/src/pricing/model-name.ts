/**
 * Our provider names → the price data's provider ids, and the provider to fall back on
 * when a hosting platform resells a vendor's model at the vendor's price.
 */
const PROVIDER_IDS: Record<string, string> = {
  openai: "openai",
  "azure-openai": "azure",
  azure: "azure",
  anthropic: "anthropic",
  google: "google",
  gemini: "google",
  "google-genai": "google",
  vertex: "google",
  vertex_ai: "google",
  "google-vertex": "google",
  bedrock: "aws",
  "aws-bedrock": "aws",
  aws: "aws",
  aws_bedrock: "aws",
  "x-ai": "x-ai",
  xai: "x-ai",
  mistral: "mistral",
  mistralai: "mistral",
  groq: "groq",
  deepseek: "deepseek",
  cohere: "cohere",
  together: "together",
  fireworks: "fireworks",
  openrouter: "openrouter",
  perplexity: "perplexity",
};

export function providerId(provider: string): string {
  const p = provider.trim().toLowerCase();
  return PROVIDER_IDS[p] ?? p;
}

const VENDOR_PROVIDERS: Record<string, string> = {
  anthropic: "anthropic",
  claude: "anthropic",
  openai: "openai",
  gpt: "openai",
  gemini: "google",
  google: "google",
  mistral: "mistral",
  meta: "meta",
  cohere: "cohere",
  deepseek: "deepseek",
};

export interface NameCandidate {
  readonly provider: string;
  readonly model: string;
}

const BEDROCK_REGION = /^(?:us|eu|apac|ap|global|us-gov|jp|au|ca)\./;
const BEDROCK_VENDOR = /^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer)\./;
const BEDROCK_VERSION = /-v\d+(?::\d+)?$/;
const DATE_SUFFIX = /-(?:20\d{2}-?\d{2}-?\d{2}|\d{4})$/;

/**
 * The names to try, in order, for a (provider, model) as an app reports it: the name as
 * given, then the forms dated snapshots and cloud platforms wrap around a vendor's name
 * (`claude-sonnet-4-5@20250929` on Vertex, `us.anthropic.claude-…-v1:0` on Bedrock,
 * `openai/gpt-4o` on routers), then the vendor's own provider.
 */
export function nameCandidates(provider: string, model: string): NameCandidate[] {
  const pid = providerId(provider);
  const name = model.trim().toLowerCase();
  const out: NameCandidate[] = [];
  const seen = new Set<string>();
  const push = (p: string, m: string) => {
    const key = `${p}\u0000${m}`;
    if (m !== "" && !seen.has(key)) {
      seen.add(key);
      out.push({ provider: p, model: m });
    }
  };
  push(pid, name);

  let bare = name;
  let vendor: string | undefined;
  if (bare.includes("@")) bare = bare.replace("@", "-");
  const slash = bare.lastIndexOf("/");
  if (slash >= 0) {
    vendor = VENDOR_PROVIDERS[bare.slice(0, bare.indexOf("/"))];
    bare = bare.slice(slash + 1);
  }
  if (BEDROCK_REGION.test(bare) || BEDROCK_VENDOR.test(bare)) {
    bare = bare.replace(BEDROCK_REGION, "");
    const m = BEDROCK_VENDOR.exec(bare);
    if (m) {
      vendor = VENDOR_PROVIDERS[m[1] as string] ?? vendor;
      bare = bare.slice(m[0].length);
    }
    bare = bare.replace(BEDROCK_VERSION, "");
  }
  vendor ??= VENDOR_PROVIDERS[bare.split("-")[0] ?? ""];
  push(pid, bare);
  const undated = bare.replace(DATE_SUFFIX, "");
  push(pid, undated);
  if (vendor !== undefined && vendor !== pid) {
    push(vendor, bare);
    push(vendor, undated);
  }
  return out;
}
