import Anthropic from "@anthropic-ai/sdk";
import { VERSION } from "@anthropic-ai/sdk/version";
import { anthropicScenarios } from "./scenarios/anthropic-scenarios.js";

anthropicScenarios(Anthropic, VERSION);
