import Anthropic from "@anthropic-ai/sdk";
import { VERSION } from "@anthropic-ai/sdk/version";
import Anthropic0 from "anthropic-sdk-0";
import { VERSION as VERSION0 } from "anthropic-sdk-0/version";
import { anthropicScenarios } from "./scenarios/anthropic-scenarios.js";

// The current major (1.x) and the previous one (0.x, installed under an alias); both run on Node 20.
anthropicScenarios(Anthropic, VERSION);
anthropicScenarios(Anthropic0 as unknown as typeof Anthropic, VERSION0);
