import { openaiScenarios } from "../scenarios/openai-scenarios.js";
import { CURRENT_RUNTIME, installedVersion, skippedOnThisRuntime } from "./majors.js";

if (CURRENT_RUNTIME) {
  const version = installedVersion("openai", 7);
  const { default: OpenAI } = await import("openai");
  openaiScenarios(OpenAI, version);
} else skippedOnThisRuntime("openai 7");
