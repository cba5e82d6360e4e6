import { aiSdkScenarios } from "../scenarios/ai-sdk-scenarios.js";
import { CURRENT_RUNTIME, installedVersion, skippedOnThisRuntime } from "./majors.js";

if (CURRENT_RUNTIME) {
  const version = installedVersion("ai", 7);
  installedVersion("@ai-sdk/openai", 4);
  const ai = await import("ai");
  const { createOpenAI } = await import("@ai-sdk/openai");
  aiSdkScenarios({ version, specificationVersion: "v4", ai, createOpenAI });
} else skippedOnThisRuntime("ai 7");
