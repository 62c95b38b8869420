/** What a cloud call costs, from the provider's usage or estimated from characters. */
import { contentText, type ChatCompletion, type ChatCompletionRequest, type CompletionUsage } from '../../common/openai';
import type { CloudModelConfig } from './config';

// ---------------------------------------------------------------------------------------------
// Cost

export interface CloudCost {
  readonly usd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** True when the provider sent no usage and the tokens were estimated as characters / 4. */
  readonly estimated: boolean;
}

export type CloudChatResult = ChatCompletion & { readonly edgerouteCost: CloudCost; readonly attempts: number };

/** Rough token count when the provider reports none: about 4 characters per token for English. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / 4);
}

export function estimateTokens(text: string): number {
  return tokensForChars(text.length);
}

export function cloudCostUsd(model: Pick<CloudModelConfig, 'usdPerMTokIn' | 'usdPerMTokOut'>, inputTokens: number, outputTokens: number): number {
  return (inputTokens * model.usdPerMTokIn) / 1e6 + (outputTokens * model.usdPerMTokOut) / 1e6;
}

function promptChars(request: ChatCompletionRequest): number {
  return request.messages.reduce((sum, m) => sum + contentText(m.content).length, 0);
}

export function costOf(model: CloudModelConfig, usage: CompletionUsage | undefined, request: ChatCompletionRequest, outputChars: number): CloudCost {
  const inputTokens = usage ? usage.prompt_tokens : tokensForChars(promptChars(request));
  const outputTokens = usage ? usage.completion_tokens : tokensForChars(outputChars);
  return { usd: cloudCostUsd(model, inputTokens, outputTokens), inputTokens, outputTokens, estimated: !usage };
}
