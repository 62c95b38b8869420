/**
 * A fake worker for the OpenAI-adapter tests: UniRoute always picks `chosen` (of a local
 * 'llama' and a 'cloud-big'), and the local model echoes the last message.
 */
import type { RouterWorker } from '../../src/page/router';
import type { RouteResult } from '../../src/worker/protocol';

export function fakeWorker(chosen: 'llama' | 'cloud-big', engineModel: string): RouterWorker {
  return {
    async route(prompt, lambda): Promise<RouteResult> {
      return {
        clusterProbabilities: [1],
        predictedErrors: { llama: 0.3, 'cloud-big': 0.1 },
        chosenModel: chosen,
        lambda,
        embedMillis: 1,
        clusterMillis: 0,
        decideMillis: 0,
        promptChars: prompt.length,
        embeddedChars: prompt.length,
        truncated: false,
        notes: [],
      };
    },
    calibrateLambda: async () => ({ lambda: 0, achieved: 0, feasible: true }),
    async generate(request) {
      return {
        completion: {
          id: 'l',
          object: 'chat.completion',
          created: 1,
          model: engineModel,
          choices: [{ index: 0, message: { role: 'assistant', content: `local: ${request.messages.at(-1)!.content}` }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        },
        confidence: { score: -0.1, method: 'mean-logprob' },
        millis: 1,
      };
    },
    cancel() {},
  };
}
