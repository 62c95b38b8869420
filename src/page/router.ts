/**
 * The public router: OpenAI-shaped `chat.completions.create`, deciding per prompt between the
 * on-device model (in the worker) and a pool of cloud models.
 *
 * Modes (the papers' two methods and their combination):
 * - 'route'      UniRoute decides before generating: argmin_h Σ_k P(k|x)·Ψ_k(h) + λ·cost(h).
 * - 'cascade'    the local model always answers first; a low confidence escalates to the cloud.
 * - 'hybrid'     (default) skip the local model when UniRoute predicts it fails, else cascade.
 * - 'local-only', 'cloud-only'.
 *
 * Written against two small interfaces (the worker's API and the cloud client) so the decision
 * logic is tested with fakes in Node and for real in the browser.
 */
import { EdgeRouteError, errorCode, isCloudErrorCode } from '../common/errors';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../common/openai';
import { validateChatRequest } from '../common/openai';
import { isRouterMode, ROUTER_MODES, type RouterMode } from '../common/modes';
import { EscalationController } from './escalation';
import { raceAbort } from '../common/abort';
import type { GenerateResult, LambdaTarget, RouteResult } from '../worker/protocol';

export type { RouterMode };
export { EscalationController };

/**
 * Where the local model's load stands. 'loading' with a progress in [0, 1]; 'failed' with the
 * reason (the next generation tries to load it again).
 */
export type LocalReadiness =
  | { readonly state: 'loading'; readonly progress: number }
  | { readonly state: 'ready' }
  | { readonly state: 'failed'; readonly reason: string };

/** What the router needs of the worker. */
export interface RouterWorker {
  route(prompt: string, lambda: number, candidates?: readonly string[]): Promise<RouteResult>;
  calibrateLambda(target: LambdaTarget, candidates?: readonly string[]): Promise<{ lambda: number; achieved: number; feasible: boolean }>;
  generate(request: ChatCompletionRequest, options?: { jobId?: string }): Promise<GenerateResult>;
  cancel(jobId: string): void;
  /**
   * Whether the local model is loaded. Without it (a worker that loads on first use), every
   * local request waits for the load.
   */
  localReadiness?(): LocalReadiness;
}

/** Whether the browser says it is offline (navigator.onLine false); unknown counts as online. */
export type OnlineCheck = () => boolean;

const browserOnline: OnlineCheck = () => typeof navigator === 'undefined' || navigator.onLine !== false;

/** What the router needs of the cloud client. */
export interface RouterCloud {
  chat(modelId: string, request: ChatCompletionRequest, options?: { signal?: AbortSignal }): Promise<ChatCompletion & { edgerouteCost?: { usd: number } }>;
  stream(modelId: string, request: ChatCompletionRequest, options?: { signal?: AbortSignal }): AsyncIterable<ChatCompletionChunk>;
}

export interface RouterOptions {
  readonly worker: RouterWorker;
  readonly cloud: RouterCloud;
  /** Profile id of the on-device model (its Ψ in the validation set); undefined = no local model. */
  readonly localModel?: string;
  /** Profile ids of the cloud models the page can call, with USD per call for the cost report. */
  readonly cloudModels: readonly { readonly id: string; readonly cost: number }[];
  readonly mode?: RouterMode;
  /** λ, or a target the router calibrates λ to on the validation prompts. */
  readonly lambda?: number | LambdaTarget;
  /**
   * Cascade threshold on the local answer's confidence (mean token log-prob, or the share of
   * agreeing samples): below it, escalate. Default −1.5 for log-probs. In hybrid mode with a
   * cloud-share target the threshold is instead adapted online (see EscalationController).
   */
  readonly confidenceThreshold?: number;
  /**
   * Hybrid with a cloud-share target: the part of the target spent by UniRoute before
   * generation (default 0.5); the rest goes to escalations of low-confidence local answers.
   */
  readonly preRouteShare?: number;
  /** Default: navigator.onLine. Offline, the local model answers everything it can. */
  readonly online?: OnlineCheck;
}

/** What every answer carries besides the OpenAI fields. */
export interface RoutingReport {
  readonly mode: RouterMode;
  /** The model whose answer is returned. */
  readonly model: string;
  readonly lambda: number;
  readonly predictedErrors: Readonly<Record<string, number>>;
  readonly clusterProbabilities: readonly number[];
  /** UniRoute's choice before generation. */
  readonly routedTo: string;
  readonly localConfidence?: number;
  readonly escalated: boolean;
  /** The cloud failed and the local answer is returned instead. */
  readonly degraded: boolean;
  readonly costUsd: number;
  /** embed, cluster (P(k|x)) and decide (Σ P·Ψ and the argmin) as timed in the worker; total as seen by the page. */
  readonly latencyMs: {
    readonly embed: number; readonly cluster: number; readonly decide: number; readonly local: number; readonly cloud: number; readonly total: number;
  };
  /**
   * The prompt was longer than the embedder's window: the decision was made on its head and
   * tail only (see `notes`). The models themselves are sent the whole prompt.
   */
  readonly truncated: boolean;
  /**
   * What else the caller should know, in words: a truncated prompt, a local model that failed
   * and the cloud that answered for it, a cloud failure behind a degraded answer, a worker that
   * was restarted, a routing failure the cloud answered around. Empty when nothing happened.
   */
  readonly notes: readonly string[];
}

export type RoutedCompletion = ChatCompletion & { readonly edgeroute: RoutingReport };
export type RoutedChunk = ChatCompletionChunk & { readonly edgeroute?: RoutingReport };

export interface CreateOptions {
  readonly signal?: AbortSignal;
}

const DEFAULT_CONFIDENCE_THRESHOLD = -1.5;
let jobCounter = 0;

export class EdgeRouter {
  readonly chat: {
    readonly completions: {
      create(request: ChatCompletionRequest & { stream?: false | null }, options?: CreateOptions): Promise<RoutedCompletion>;
      create(request: ChatCompletionRequest & { stream: true }, options?: CreateOptions): Promise<AsyncIterable<RoutedChunk>>;
    };
  };

  private readonly options: RouterOptions;
  private readonly mode: RouterMode;
  private lambdaValue: Promise<number>;
  private readonly controller: EscalationController | undefined;
  /** The single local engine answers one request at a time, in arrival order. */
  private localQueue: Promise<unknown> = Promise.resolve();

  constructor(options: RouterOptions) {
    this.options = options;
    this.mode = options.mode ?? 'hybrid';
    if (!isRouterMode(this.mode)) {
      throw new EdgeRouteError('invalid-config', `unknown mode "${String(this.mode)}": use ${ROUTER_MODES.join(', ')}`);
    }
    if (this.mode !== 'cloud-only' && !options.localModel) {
      throw new EdgeRouteError('invalid-config', `mode "${this.mode}" needs a local model; configure one or use mode "cloud-only"`);
    }
    if (this.mode !== 'local-only' && options.cloudModels.length === 0) {
      throw new EdgeRouteError('invalid-config', `mode "${this.mode}" needs at least one cloud model; configure one or use mode "local-only"`);
    }
    for (const m of options.cloudModels) {
      if (!(Number.isFinite(m.cost) && m.cost >= 0)) throw new EdgeRouteError('invalid-config', `cloud model "${m.id}": cost must be a finite number ≥ 0 USD per call, got ${m.cost}`);
    }
    const lambda = options.lambda ?? 0;
    if (typeof lambda === 'number' && !(lambda >= 0)) throw new EdgeRouteError('invalid-config', `lambda must be a number ≥ 0, got ${lambda}`);
    if (typeof lambda !== 'number' && lambda.kind === 'cloudShare' && !(lambda.share >= 0 && lambda.share <= 1)) {
      throw new EdgeRouteError('invalid-config', `lambda.share must be a fraction between 0 and 1 (0.3 sends 30% of prompts to the cloud), got ${lambda.share}`);
    }
    const adaptive = this.mode === 'hybrid' && typeof lambda !== 'number' && lambda.kind === 'cloudShare';
    const preRouteShare = options.preRouteShare ?? 0.5;
    if (!(preRouteShare >= 0 && preRouteShare <= 1)) throw new EdgeRouteError('invalid-config', `preRouteShare must be in [0, 1], got ${preRouteShare}`);
    this.controller = adaptive ? new EscalationController(lambda.share) : undefined;
    this.lambdaValue = typeof lambda === 'number'
      ? Promise.resolve(lambda)
      : this.calibrate(adaptive ? { kind: 'cloudShare', share: lambda.share * preRouteShare } : lambda);
    // An unreachable target is reported by lambda() and by every request; until one of them
    // awaits it, it must not surface as an unhandled rejection (fatal in Node).
    this.lambdaValue.catch(() => undefined);
    // `?.`: a null or non-object request must reach validation's typed error, not a TypeError here.
    const create = ((request: ChatCompletionRequest, createOptions?: CreateOptions | null) =>
      (request as Partial<ChatCompletionRequest> | null | undefined)?.stream === true
        ? this.createStream(request, createOptions ?? {})
        : this.createCompletion(request, createOptions ?? {})) as EdgeRouter['chat']['completions']['create'];
    this.chat = { completions: { create } };
  }

  /** The λ in use (after calibration, when a target was given). */
  lambda(): Promise<number> {
    return this.lambdaValue;
  }

  /** Re-calibrates λ to a new target (a cloud-call share, a budget per 1,000 prompts, or a quality floor). */
  setTarget(target: number | LambdaTarget): Promise<number> {
    const next = typeof target === 'number' ? Promise.resolve(target) : this.calibrate(target);
    // A target that cannot be met rejects this call only: the router keeps the λ it had.
    const previous = this.lambdaValue;
    this.lambdaValue = next.catch(() => previous);
    this.lambdaValue.catch(() => undefined);
    return next;
  }

  private candidates(): string[] {
    const local = this.mode === 'cloud-only' || !this.options.localModel ? [] : [this.options.localModel];
    const cloud = this.mode === 'local-only' ? [] : this.options.cloudModels.map((m) => m.id);
    return [...local, ...cloud];
  }

  private async calibrate(target: LambdaTarget): Promise<number> {
    const result = await this.options.worker.calibrateLambda(target, this.candidates());
    if (!result.feasible) {
      throw new EdgeRouteError(
        'invalid-config',
        `The lambda target ${describeTarget(target)} cannot be met on the routing profile's validation prompts: the closest ` +
          `operating point reaches ${formatAchieved(target, result.achieved)} (λ = ${result.lambda}). Loosen the target, or pass a number for lambda.`,
      );
    }
    return result.lambda;
  }

  private online(): boolean {
    return (this.options.online ?? browserOnline)();
  }

  /**
   * Why the local model cannot answer now although it was chosen: still loading (progressive
   * start: the cloud answers meanwhile) or undefined when it can. Offline or in local-only mode
   * the request waits for the load instead.
   */
  private localNotReady(): string | undefined {
    if (this.mode === 'local-only' || !this.online()) return undefined;
    const readiness = this.options.worker.localReadiness?.();
    return readiness?.state === 'loading' ? `the local model is still loading (${Math.round(readiness.progress * 100)}%)` : undefined;
  }

  private costOf(id: string): number {
    return this.options.cloudModels.find((m) => m.id === id)?.cost ?? 0;
  }

  /** Runs `work` on the local engine after the requests before it; abort while waiting skips it. */
  private queueLocal<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = this.localQueue.then(() => {
      if (signal?.aborted) throw new EdgeRouteError('aborted', 'the request was aborted before the local model got to it');
      return work();
    });
    this.localQueue = run.catch(() => undefined);
    return run;
  }

  private async generateLocally(request: ChatCompletionRequest, signal?: AbortSignal): Promise<GenerateResult> {
    const jobId = `router-${++jobCounter}`;
    const onAbort = (): void => this.options.worker.cancel(jobId);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The caller's abort ends the wait at once, even while the worker is still loading the
      // model (the cancel above reaches the job when it starts).
      return await raceAbort(this.queueLocal(() => this.options.worker.generate(request, { jobId }), signal), signal,
        () => new EdgeRouteError('aborted', 'the request was aborted by the caller'));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The local answer after the cloud failed; when the local model fails too, neither could answer. */
  private async answerLocallyAfterCloud(
    request: ChatCompletionRequest, signal: AbortSignal | undefined, cloudError: unknown, latency: { local: number },
  ): Promise<GenerateResult> {
    const t = performance.now();
    try {
      return await this.generateLocally(request, signal);
    } catch (localError) {
      if (signal?.aborted || errorCode(localError) === 'aborted') throw asAborted(localError);
      throw unavailable(localError, cloudError);
    } finally {
      latency.local = performance.now() - t;
    }
  }

  private async createCompletion(
    request: ChatCompletionRequest, { signal }: CreateOptions, decided?: { route: RouteResult; lambda: number; started: number },
  ): Promise<RoutedCompletion> {
    validateChatRequest(request);
    const started = decided?.started ?? performance.now();
    const lambda = decided?.lambda ?? await this.lambdaValue;
    const route = decided?.route ?? await this.decide(request, lambda, signal);
    const latency = { embed: route.embedMillis, cluster: route.clusterMillis, decide: route.decideMillis, local: 0, cloud: 0, total: 0 };
    const cloudChoice = this.bestCloud(route, lambda);
    const notes = [...route.notes];
    const report = (model: string, extra: Partial<RoutingReport>): RoutingReport => ({
      mode: this.mode, model, lambda,
      predictedErrors: route.predictedErrors, clusterProbabilities: route.clusterProbabilities,
      routedTo: route.chosenModel, escalated: false, degraded: false, costUsd: 0,
      ...extra,
      truncated: route.truncated,
      notes,
      latencyMs: { ...latency, total: performance.now() - started },
    });

    const askCloud = async (): Promise<ChatCompletion & { edgerouteCost?: { usd: number } }> => {
      const t = performance.now();
      try {
        return await this.options.cloud.chat(cloudChoice, request, signal ? { signal } : {});
      } finally {
        latency.cloud = performance.now() - t;
      }
    };

    const offline = !this.online() && this.mode !== 'cloud-only' && this.options.localModel !== undefined;
    const chosenLocal = this.mode === 'local-only' || this.mode === 'cascade'
      || ((this.mode === 'route' || this.mode === 'hybrid') && route.chosenModel === this.options.localModel);
    const notReady = chosenLocal ? this.localNotReady() : undefined;
    const goLocal = offline || (chosenLocal && notReady === undefined);
    if (offline) notes.push(`The browser is offline: the local model answered${chosenLocal ? '' : ` instead of ${cloudChoice}`}, without a cloud escalation.`);
    if (notReady) notes.push(`${capitalise(notReady)}; ${cloudChoice} answered meanwhile.`);
    this.controller?.recordPreRouted(!goLocal);
    if (!goLocal) {
      try {
        const answer = await askCloud();
        return { ...answer, edgeroute: report(cloudChoice, { costUsd: answer.edgerouteCost?.usd ?? this.costOf(cloudChoice) }) };
      } catch (cloudError) {
        if (signal?.aborted || errorCode(cloudError) === 'aborted') throw asAborted(cloudError);
        // The README's promise: with a local model, a dead cloud degrades to the local answer.
        if (!this.options.localModel || this.mode === 'cloud-only' || !isCloudFailure(cloudError)) throw cloudError;
        notes.push(`${cloudChoice} failed (${describeError(cloudError)}); the local model answered instead.`);
        const local = await this.answerLocallyAfterCloud(request, signal, cloudError, latency);
        return { ...local.completion, edgeroute: report(this.options.localModel, { localConfidence: local.confidence.score, degraded: true }) };
      }
    }

    let local: GenerateResult | undefined;
    let localError: unknown;
    const t = performance.now();
    try {
      local = await this.generateLocally(request, signal);
    } catch (error) {
      if (signal?.aborted || (error as { code?: string }).code === 'aborted') throw asAborted(error);
      localError = error;
    }
    latency.local = performance.now() - t;

    if (!local) {
      // No local answer (engine failed): the cloud answers, unless there is none.
      if (this.mode === 'local-only') throw localError;
      this.controller?.recordFallback();
      notes.push(`The local model failed (${describeError(localError)}); ${cloudChoice} answered instead.`);
      try {
        const answer = await askCloud();
        return { ...answer, edgeroute: report(cloudChoice, { escalated: true, costUsd: answer.edgerouteCost?.usd ?? this.costOf(cloudChoice) }) };
      } catch (cloudError) {
        throw unavailable(localError, cloudError);
      }
    }

    const confidence = local.confidence.score;
    const threshold = this.options.confidenceThreshold ?? DEFAULT_CONFIDENCE_THRESHOLD;
    const escalate = !offline && (this.controller
      ? this.controller.escalate(confidence)
      : (this.mode === 'cascade' || this.mode === 'hybrid') && !(confidence >= threshold));
    if (!escalate) {
      return { ...local.completion, edgeroute: report(this.options.localModel!, { localConfidence: confidence }) };
    }
    try {
      const answer = await askCloud();
      return {
        ...answer,
        edgeroute: report(cloudChoice, { localConfidence: confidence, escalated: true, costUsd: answer.edgerouteCost?.usd ?? this.costOf(cloudChoice) }),
      };
    } catch (cloudError) {
      if (signal?.aborted || (cloudError as { code?: string }).code === 'aborted') throw asAborted(cloudError);
      // The cloud is unreachable after its retries: the local answer, marked degraded, beats nothing.
      notes.push(`The local answer was not confident enough, but the cloud failed (${describeError(cloudError)}); the local answer is returned.`);
      return { ...local.completion, edgeroute: report(this.options.localModel!, { localConfidence: confidence, escalated: true, degraded: true }) };
    }
  }

  /**
   * Streaming: a cloud answer is streamed as the provider sends it; a local answer is only
   * known to be kept once it is complete (its confidence needs every token), so it arrives as
   * one chunk. The last chunk carries the routing report.
   */
  private async createStream(request: ChatCompletionRequest, options: CreateOptions): Promise<AsyncIterable<RoutedChunk>> {
    validateChatRequest(request);
    const started = performance.now();
    const lambda = await this.lambdaValue;
    const route = await this.decide(request, lambda, options.signal);
    const cloudChoice = this.bestCloud(route, lambda);
    const offline = !this.online() && this.mode !== 'cloud-only' && this.options.localModel !== undefined;
    const chosenLocal = this.mode === 'local-only' || this.mode === 'cascade'
      || ((this.mode === 'route' || this.mode === 'hybrid') && route.chosenModel === this.options.localModel);
    const notReady = chosenLocal ? this.localNotReady() : undefined;
    if (!offline && (!chosenLocal || notReady !== undefined)) {
      this.controller?.recordPreRouted(true);
      const stream = this.streamCloud(cloudChoice, request, notReady ? { ...route, notes: [...route.notes, `${capitalise(notReady)}; ${cloudChoice} answered meanwhile.`] } : route, lambda, options.signal);
      return this.localModelAfterFailedStream(stream, request, options, { route, lambda, started });
    }
    // The decision is made: the local path reuses it rather than embedding the prompt again.
    const completion = await this.createCompletion({ ...request, stream: false }, options, { route, lambda, started });
    return singleChunk(completion);
  }

  /**
   * A cloud stream that fails before its first chunk (the provider is unreachable after its
   * retries) is answered by the local model, as one chunk marked degraded. Once chunks have
   * been passed on, a failure ends the stream with the error.
   */
  private localModelAfterFailedStream(
    stream: AsyncIterable<RoutedChunk>, request: ChatCompletionRequest, options: CreateOptions,
    decided: { route: RouteResult; lambda: number; started: number },
  ): AsyncIterable<RoutedChunk> {
    if (!this.options.localModel || this.mode === 'cloud-only') return stream;
    const fallback = async (cloudError: unknown): Promise<RoutedCompletion> => {
      const notes = [...decided.route.notes, `${this.bestCloud(decided.route, decided.lambda)} failed (${describeError(cloudError)}); the local model answered instead.`];
      const latency = { local: 0 };
      const local = await this.answerLocallyAfterCloud(request, options.signal, cloudError, latency);
      const report: RoutingReport = {
        mode: this.mode, model: this.options.localModel!, lambda: decided.lambda,
        predictedErrors: decided.route.predictedErrors, clusterProbabilities: decided.route.clusterProbabilities,
        routedTo: decided.route.chosenModel, localConfidence: local.confidence.score, escalated: false, degraded: true, costUsd: 0,
        latencyMs: {
          embed: decided.route.embedMillis, cluster: decided.route.clusterMillis, decide: decided.route.decideMillis,
          local: latency.local, cloud: 0, total: performance.now() - decided.started,
        },
        truncated: decided.route.truncated,
        notes,
      };
      return { ...local.completion, edgeroute: report };
    };
    return (async function* guarded(): AsyncIterable<RoutedChunk> {
      let yielded = false;
      try {
        for await (const chunk of stream) {
          yielded = true;
          yield chunk;
        }
      } catch (cloudError) {
        if (yielded || options.signal?.aborted || errorCode(cloudError) === 'aborted' || !isCloudFailure(cloudError)) throw cloudError;
        yield* singleChunk(await fallback(cloudError));
      }
    })();
  }

  private async *streamCloud(model: string, request: ChatCompletionRequest, route: RouteResult, lambda: number, signal?: AbortSignal): AsyncIterable<RoutedChunk> {
    const started = performance.now();
    let last: ChatCompletionChunk | undefined;
    for await (const chunk of this.options.cloud.stream(model, request, signal ? { signal } : {})) {
      if (last) yield last;
      last = chunk;
    }
    const report: RoutingReport = {
      mode: this.mode, model, lambda, predictedErrors: route.predictedErrors, clusterProbabilities: route.clusterProbabilities,
      routedTo: route.chosenModel, escalated: false, degraded: false, costUsd: this.costOf(model),
      latencyMs: {
        embed: route.embedMillis, cluster: route.clusterMillis, decide: route.decideMillis, local: 0, cloud: performance.now() - started,
        total: performance.now() - started + route.embedMillis + route.clusterMillis + route.decideMillis,
      },
      truncated: route.truncated,
      notes: route.notes,
    };
    if (last) yield { ...last, edgeroute: report };
  }

  /**
   * UniRoute's decision for the request's prompt. When the worker cannot give one (it died and
   * could not be restarted, its embedder failed), the request is not lost: outside local-only
   * mode the cloud answers, picked by λ·cost alone, and a note says why. Bad input, a missing
   * profile and the caller's abort still fail the request.
   */
  private async decide(request: ChatCompletionRequest, lambda: number, signal: AbortSignal | undefined): Promise<RouteResult> {
    const prompt = lastUserText(request);
    try {
      return await this.options.worker.route(prompt, lambda, this.candidates());
    } catch (error) {
      if (signal?.aborted) throw asAborted(error);
      const code = errorCode(error);
      if (this.mode === 'local-only' || code === 'invalid-input' || code === 'invalid-config' || code === 'aborted') throw error;
      const none: RouteResult = {
        clusterProbabilities: [], predictedErrors: {}, chosenModel: '', lambda, embedMillis: 0, clusterMillis: 0, decideMillis: 0,
        promptChars: prompt.length, embeddedChars: 0, truncated: false, notes: [],
      };
      const cloud = this.bestCloud(none, lambda);
      return { ...none, chosenModel: cloud, notes: [`Routing failed (${describeError(error)}); ${cloud} was chosen without a routing decision.`] };
    }
  }

  /**
   * The cloud model to use when the cloud answers: the best cloud model of the worker's ranking
   * (UniRoute's choice itself when it chose one). Without a ranking (routing failed), the
   * cheapest cloud model when cost counts (λ > 0), else the first configured.
   */
  private bestCloud(route: RouteResult, lambda: number): string {
    const cloud = this.options.cloudModels;
    const ranked = route.ranking?.find((m) => cloud.some((c) => c.id === m.id));
    if (ranked) return ranked.id;
    if (cloud.some((m) => m.id === route.chosenModel)) return route.chosenModel;
    const first = cloud[0]?.id ?? '';
    return lambda > 0 ? cloud.reduce((best, m) => (m.cost < this.costOf(best) ? m.id : best), first) : first;
  }
}

/** A whole completion as a stream of one chunk that carries the report. */
async function* singleChunk(completion: RoutedCompletion): AsyncIterable<RoutedChunk> {
  const choice = completion.choices[0]!;
  yield {
    id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: choice.message.content ?? '' }, finish_reason: choice.finish_reason, logprobs: choice.logprobs ?? null }],
    edgeroute: completion.edgeroute,
  } as RoutedChunk;
}

/** A cloud call that failed (any cloud code; an abort is not one): the local model can stand in. */
function isCloudFailure(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && isCloudErrorCode(code);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function describeTarget(target: LambdaTarget): string {
  switch (target.kind) {
    case 'cloudShare': return `cloudShare ${target.share}`;
    case 'budget': return `budget ${target.usdPer1000} USD per 1,000 prompts`;
    case 'qualityFloor': return `qualityFloor ${target.quality}`;
  }
}

function formatAchieved(target: LambdaTarget, achieved: number): string {
  switch (target.kind) {
    case 'cloudShare': return `a cloud share of ${achieved.toFixed(3)}`;
    case 'budget': return `${achieved.toFixed(4)} USD per 1,000 prompts`;
    case 'qualityFloor': return `a quality of ${achieved.toFixed(3)}`;
  }
}

function lastUserText(request: ChatCompletionRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

/** "code: message" of an error, for a note. */
function describeError(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}

function asAborted(error: unknown): EdgeRouteError {
  return error instanceof EdgeRouteError && error.code === 'aborted'
    ? error
    : new EdgeRouteError('aborted', 'the request was aborted by the caller', { cause: error });
}

function unavailable(localError: unknown, cloudError: unknown): EdgeRouteError {
  const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  return new EdgeRouteError(
    'no-model-available',
    `No model could answer: the local model failed (${message(localError)}) and the cloud failed (${message(cloudError)}). ` +
      'Check the network and the cloud endpoint; the local model needs WebGPU or WASM and its files.',
    { cause: cloudError },
  );
}
