import type { PreForwardCheck } from "../gateway/pre-forward-check.js";
import type { BudgetService } from "./budget-service.js";

/** Budgets as the gateway's pre-forward check: refuse, downgrade (rewrite the model) or allow. */
export function budgetGatewayCheck(service: BudgetService): PreForwardCheck {
  return async (input) => {
    const { tags, ...columns } = input.attribution;
    const model = input.model ?? "";
    const result = await service.check({
      id: input.eventId,
      provider: input.provider,
      model,
      subject: { columns: { ...columns, provider: input.provider, model, api_key_id: input.apiKeyId }, tags: tags ?? {} },
      inputTokens: input.estimate.inputTokens,
      maxOutputTokens: input.estimate.maxOutputTokens,
      attempt: input.attempt,
    });
    if (result.action === "refuse") return { action: "refuse", budget: result.budget, message: result.message };
    const limit =
      result.max_output_tokens !== undefined && result.limited_by !== undefined
        ? { limit: { outputTokens: result.max_output_tokens, budget: result.limited_by } }
        : {};
    return result.model === model ? { action: "allow", ...limit } : { action: "rewrite", model: result.model, ...limit };
  };
}
