import { createOpenAI } from "@ai-sdk/openai";
import * as ai from "ai";
import { aiSdkScenarios } from "./scenarios/ai-sdk-scenarios.js";

// The previous major (ai 6, specification v3), on every runtime; test/current/ runs ai 7.
const { version } = (await import("ai/package.json", { with: { type: "json" } })).default;
aiSdkScenarios({ version, specificationVersion: "v3", ai, createOpenAI });
