import { expect, it } from "vitest";
import { openaiChatReader as openaiChat } from "./openai-call-readers.js";

const run = (injected: boolean, datas: unknown[]) => {
  const plan = openaiChat.plan({ model: "gpt-4o", stream: true, ...(injected ? {} : { stream_options: { include_usage: true } }) });
  expect(plan.usageInjected).toBe(injected);
  const reader = openaiChat.streamReader(plan);
  const out = datas.map((d) => reader.onEvent({ data: typeof d === "string" ? d : JSON.stringify(d) }));
  return { reader, out: out.map((m) => (m === null ? null : m.data === "[DONE]" ? m.data : JSON.parse(m.data))) };
};

it("asks for stream usage only when the caller did not, and keeps the caller's other stream options", () => {
  const plan = openaiChat.plan({ model: "gpt-4o", stream: true, stream_options: { include_obfuscation: false } });
  expect(JSON.parse(plan.body as string).stream_options).toEqual({ include_obfuscation: false, include_usage: true });
  expect(openaiChat.plan({ model: "gpt-4o", stream: true, stream_options: { include_usage: true } }).body).toBeUndefined();
  expect(openaiChat.plan({ model: "gpt-4o" }).body).toBeUndefined();
});

it("takes out only what asking for usage added: the null usage fields and the usage chunk", () => {
  const filter = { id: "c", choices: [], prompt_filter_results: [{ prompt_index: 0 }] };
  const { reader, out } = run(true, [
    filter,
    { id: "c", choices: [{ index: 0, delta: { content: "Hi" } }], usage: null },
    { id: "c", choices: [], usage: { prompt_tokens: 5, completion_tokens: 1 } },
    "[DONE]",
  ]);
  expect(out).toEqual([filter, { id: "c", choices: [{ index: 0, delta: { content: "Hi" } }] }, null, "[DONE]"]);
  expect(reader.rawUsage).toEqual({ prompt_tokens: 5, completion_tokens: 1 });
  expect(reader.finished).toBe(true);
  expect(reader.contentEvents).toBe(1);
});

it("passes every event on untouched when the caller asked for usage", () => {
  const chunks = [
    { id: "c", choices: [{ index: 0, delta: { content: "Hi" } }], usage: null },
    { id: "c", choices: [], usage: { prompt_tokens: 5, completion_tokens: 1 } },
  ];
  const { out } = run(false, chunks);
  expect(out).toEqual(chunks);
});
