export { formatConfigIssue, loadConfig, parseConfig } from "./config/load-config.js";
export type { ConfigIssue, CosttrailConfig } from "./config/load-config.js";
