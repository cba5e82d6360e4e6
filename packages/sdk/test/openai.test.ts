import OpenAI from "openai";
import { VERSION } from "openai/version";
import { openaiScenarios } from "./scenarios/openai-scenarios.js";

// The previous major, on every runtime; test/current/ runs the current one on Node 22 and later.
openaiScenarios(OpenAI, VERSION);
