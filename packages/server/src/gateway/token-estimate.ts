import type { Api } from "@costtrail/core";

interface Encoder {
  countTokens(text: string): number;
}

/** How a request's input tokens were counted. */
export type CountMethod = "tokenizer" | "calibrated" | "characters";

let o200k: Encoder | undefined;
let cl100k: Encoder | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads OpenAI's two encodings (gpt-tokenizer: about 0.2 s and 60 MB). Only a gateway with
 * checks needs them, so they load in the background on first use; until then requests are
 * estimated from their characters.
 */
export function loadTokenizers(): Promise<void> {
  loading ??= (async () => {
    const [a, b] = await Promise.all([import("gpt-tokenizer/encoding/o200k_base"), import("gpt-tokenizer/encoding/cl100k_base")]);
    o200k = a;
    cl100k = b;
  })();
  return loading;
}

/** OpenAI's encoding for a model: o200k_base since GPT-4o, cl100k_base for GPT-4, GPT-3.5 and the v3 embeddings. */
function openaiEncoder(model: string): Encoder | undefined {
  const m = model.replace(/^ft:/, "");
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|codex|computer-use)/.test(m)) return o200k;
  if (/^(gpt-4|gpt-3\.5|text-embedding)/.test(m)) return cl100k;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The text of a message's content: a string, or the text of its parts (images and audio are priced by size, not counted here). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) {
    if (!isObject(part)) continue;
    if (typeof part.text === "string") text += part.text;
    else if (part.type === "tool_use") text += `${String(part.name ?? "")}${JSON.stringify(part.input ?? {})}`;
    else if (part.type === "tool_result") text += contentText(part.content);
  }
  return text;
}

/**
 * Function definitions as OpenAI's cookbook counts them for GPT-4o-era models ("How to count
 * tokens with tiktoken"): a fixed cost per function, its name and description, and per
 * parameter its name, type, description and enum values.
 */
function toolTokens(enc: Encoder, tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  let n = 0;
  for (const tool of tools) {
    if (!isObject(tool)) continue;
    const fn = isObject(tool.function) ? tool.function : tool; // Chat nests it; Responses does not.
    const desc = String(fn.description ?? "").replace(/\.$/, "");
    n += 7 + enc.countTokens(`${String(fn.name ?? "")}:${desc}`);
    const params = isObject(fn.parameters) && isObject(fn.parameters.properties) ? fn.parameters.properties : {};
    const keys = Object.keys(params);
    if (keys.length > 0) n += 3;
    for (const key of keys) {
      const p = isObject(params[key]) ? params[key] : {};
      n += 3;
      if (Array.isArray(p.enum)) {
        n -= 3;
        for (const item of p.enum) n += 3 + enc.countTokens(String(item));
      }
      n += enc.countTokens(`${key}:${String(p.type ?? "")}:${String(p.description ?? "").replace(/\.$/, "")}`);
    }
  }
  return n + 12;
}

/** Chat messages by OpenAI's recipe: 3 per message, its role, content and name, and 3 to prime the reply. */
function messageTokens(enc: Encoder, messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 3;
  for (const m of messages) {
    if (!isObject(m)) continue;
    n += 3 + enc.countTokens(String(m.role ?? m.type ?? "user")) + enc.countTokens(contentText(m.content ?? m.output ?? ""));
    if (typeof m.name === "string") n += 1 + enc.countTokens(m.name);
    // The recipe leaves out an assistant turn's tool calls; measured, each costs its name and arguments and about 8 more.
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) {
        const f = isObject(call) && isObject(call.function) ? call.function : {};
        n += 8 + enc.countTokens(String(f.name ?? "")) + enc.countTokens(String(f.arguments ?? ""));
      }
    }
  }
  return n;
}

function openaiTokens(enc: Encoder, api: Api, body: Record<string, unknown>): number {
  if (api === "openai.embeddings") {
    const input = body.input;
    const items = Array.isArray(input) ? input : [input];
    return items.reduce(
      (n: number, item) => n + (typeof item === "string" ? enc.countTokens(item) : Array.isArray(item) ? item.length : 0),
      0,
    );
  }
  if (api === "openai.responses") {
    const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input;
    const messages = [
      ...(typeof body.instructions === "string" ? [{ role: "system", content: body.instructions }] : []),
      ...(Array.isArray(input) ? input : []),
    ];
    return messageTokens(enc, messages) + toolTokens(enc, body.tools);
  }
  // Structured outputs add a few tokens (measured: 3 or 4) beyond the messages.
  const structured = isObject(body.response_format) && body.response_format.type === "json_schema" ? 3 : 0;
  return messageTokens(enc, body.messages) + toolTokens(enc, body.tools) + structured;
}

/**
 * Claude's tokenizer is not published. Calibrated against recorded Messages calls: prose runs
 * about 1.1 tokens per o200k token plus a few tokens of framing, and offering tools adds a
 * hidden system prompt (about 340 tokens for Claude 3.x and Sonnet 4, about 530 for the 4.5
 * generation) besides the tool definitions themselves.
 */
function anthropicTokens(enc: Encoder, model: string, body: Record<string, unknown>): number {
  let text = typeof body.system === "string" ? body.system : contentText(body.system);
  let toolRounds = 0;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      if (!isObject(m)) continue;
      text += contentText(m.content);
      if (Array.isArray(m.content)) toolRounds += m.content.filter((b) => isObject(b) && b.type === "tool_use").length;
    }
  }
  // Each tool_use block and its result carry framing of about 50 tokens beyond their text.
  let n = Math.ceil(1.1 * enc.countTokens(text)) + 8 + 50 * toolRounds;
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  const custom = tools.filter((t) => t.type === undefined || t.type === "custom");
  if (custom.length > 0) {
    const newer = /claude-(sonnet|opus|haiku)-(4-[1-9]|[5-9])($|[-@])/.test(model);
    n += (newer ? 530 : 340) + Math.ceil(1.1 * enc.countTokens(JSON.stringify(custom)));
  }
  // Anthropic's server tools bring long instructions of their own: web search measured at about 11,300.
  if (tools.some((t) => typeof t.type === "string" && t.type.startsWith("web_search"))) n += 11_300;
  // Structured output adds about 100 tokens and 1.2 per token of its schema.
  const format = isObject(body.output_config) ? body.output_config.format : body.output_format;
  if (isObject(format)) n += 100 + Math.ceil(1.2 * enc.countTokens(JSON.stringify(format.schema ?? format)));
  return n;
}

/** Every string in a request's prompt: the fallback when no tokenizer applies. */
function promptCharacters(value: unknown, depth = 0): number {
  if (depth > 20) return 0;
  if (typeof value === "string") return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + promptCharacters(v, depth + 1), 0);
  if (isObject(value)) {
    let n = 0;
    for (const [k, v] of Object.entries(value)) {
      // Images and audio are priced by the provider from their size, not their base64 text.
      if (k === "image_url" || k === "input_audio" || k === "source" || k === "data") continue;
      n += promptCharacters(v, depth + 1);
    }
    return n;
  }
  return 0;
}

/** A request's input tokens, counted as exactly as the model allows. */
export function countInputTokens(provider: string, api: Api, body: Record<string, unknown>): { tokens: number; method: CountMethod } {
  const model = typeof body.model === "string" ? body.model : "";
  if (!o200k) void loadTokenizers();
  if (provider === "openai") {
    const enc = openaiEncoder(model);
    if (enc) return { tokens: openaiTokens(enc, api, body), method: "tokenizer" };
  }
  if (provider === "anthropic" && o200k) return { tokens: anthropicTokens(o200k, model, body), method: "calibrated" };
  const chars =
    promptCharacters(body.messages ?? body.input ?? body.prompt) +
    promptCharacters(body.system ?? body.instructions) +
    promptCharacters(body.tools);
  return { tokens: Math.ceil(chars / 4), method: "characters" };
}
