import { langchainScenarios } from "../scenarios/langchain-scenarios.js";
import { CURRENT_RUNTIME, installedVersion, skippedOnThisRuntime } from "./majors.js";

if (CURRENT_RUNTIME) {
  const version = installedVersion("@langchain/openai", 1);
  const { ChatOpenAI } = await import("@langchain/openai");
  langchainScenarios({
    label: `@langchain/openai ${version}`,
    model: (fakeUrl, streaming) =>
      new ChatOpenAI({ model: "gpt-4o", apiKey: "sk-test", configuration: { baseURL: `${fakeUrl}/v1` }, maxRetries: 0, streaming }),
    provider: "openai",
    // 176 uncached × $2.50 + 1,024 cached × $1.25 + 300 output × $10, per million.
    plain: { model: "gpt-4o-2024-08-06", cost: "0.00472" },
    // 128 uncached × $2.50 + 1,920 cached × $1.25 + 12 output × $10, per million.
    streamed: { model: "gpt-4o-2024-08-06", cost: "0.00284", text: "Your refund for order #4412 was issued today." },
  });
} else skippedOnThisRuntime("@langchain/openai 1.x");
