import { ChatAnthropic } from "@langchain/anthropic";
import { langchainScenarios } from "./scenarios/langchain-scenarios.js";

// @langchain/anthropic runs on Node 20; test/current/ runs @langchain/openai 1.x, which needs Node 22.
langchainScenarios({
  label: "@langchain/anthropic",
  model: (fakeUrl, streaming) =>
    new ChatAnthropic({ model: "claude-sonnet-4-5", apiKey: "sk-ant-test", anthropicApiUrl: fakeUrl, maxRetries: 0, streaming }),
  provider: "anthropic",
  // 24 input × $3 + 2,048 cache writes × $3.75 + 6,000 cache reads × $0.30 + 310 output × $15, per million.
  plain: { model: "claude-sonnet-4-5-20250929", cost: "0.014202" },
  // A streamed run's message carries no model name, so the requested one prices it; and
  // @langchain/anthropic adds message_start's provisional output token to message_delta's
  // cumulative count (58 for the stream's 57). The handler records what LangChain reports:
  // 410 input × $3 + 58 output × $15, per million. Wrapping the Anthropic client is exact.
  streamed: { model: "claude-sonnet-4-5", cost: "0.0021", text: "Section 9.2 gives 60 days notice before renewal." },
});
