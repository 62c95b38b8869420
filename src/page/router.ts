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
import {
  cloudOnlyReason,
  contentText,
  lastUserText,
  localChatRequest,
  toOpenAIChunk,
  toOpenAICompletion,
  validateChatRequest,
  wantsStreamUsage,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type CompletionUsage,
  type LocalChatRequest,
  type OpenAIChatCompletion,
  type OpenAIChatCompletionChunk,
} from '../common/openai';
import { tokensForChars } from './cloud/cost';
import { isRouterMode, ROUTER_MODES, type RouterMode } from '../common/modes';
import { EscalationController } from './escalation';
import { raceAbort } from '../common/abort';
import { createOpenAIFetch, type OpenAIFetch } from './openai-fetch';
import type { EscalationRuleName, GenerateResult, LambdaTarget, RouteResult } from '../worker/protocol';

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
  /** `onChunk`, when the worker can stream: each chunk of the answer as it is generated. */
  generate(request: LocalChatRequest, options?: { jobId?: string }, onChunk?: (chunk: ChatCompletionChunk) => void): Promise<GenerateResult>;
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
  /** `onCost` (optional to call): the call's cost once the stream has ended. */
  stream(
    modelId: string,
    request: ChatCompletionRequest,
    options?: { signal?: AbortSignal; onCost?: (cost: { usd: number }) => void },
  ): AsyncIterable<ChatCompletionChunk>;
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
  /** UniRoute's choice before generation (the named model when the request forced one). */
  readonly routedTo: string;
  /**
   * Why the cloud answered without a routing choice, when the request forced it: it named a
   * configured cloud model in `model`, or it needs what only the cloud does (tools, tool
   * results, a JSON response_format). Absent when the router decided.
   */
  readonly forcedCloud?: string;
  readonly localConfidence?: number;
  /**
   * What judged the local answer's confidence (hybrid and cascade): the profile's escalation rule
   * chosen by cross-validation ('confidence-only', 'uniroute', 'hybrid'), or 'threshold' where
   * the profile has no rule for this kind of confidence.
   */
  readonly escalationRule?: EscalationRuleName | 'threshold';
  /** The local answer's predicted error given its confidence, under that rule. */
  readonly localError?: number;
  readonly escalated: boolean;
  /** The cloud failed and the local answer is returned instead. */
  readonly degraded: boolean;
  readonly costUsd: number;
  /** embed, cluster (P(k|x)) and decide (Σ P·Ψ and the argmin) as timed in the worker; total as seen by the page. */
  readonly latencyMs: {
    readonly embed: number;
    readonly cluster: number;
    readonly decide: number;
    readonly local: number;
    readonly cloud: number;
    readonly total: number;
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

/** OpenAI's ChatCompletion (assignable to the `openai` package's type) plus the routing report. */
export type RoutedCompletion = OpenAIChatCompletion & { readonly edgeroute: RoutingReport };
/** OpenAI's ChatCompletionChunk; the stream's last chunk carries the routing report. */
export type RoutedChunk = OpenAIChatCompletionChunk & { readonly edgeroute?: RoutingReport };

/** What a request forces, when it does: the cloud model to use (undefined: the routing's best) and why. */
interface Forced {
  readonly model: string | undefined;
  readonly reason: string;
}

/** What the report builder needs to know about one request. */
interface ReportContext {
  readonly route: RouteResult;
  readonly lambda: number;
  readonly started: number;
  readonly latency: { local: number; cloud: number };
  readonly notes: string[];
  readonly forced: Forced | undefined;
}

export interface CreateOptions {
  readonly signal?: AbortSignal;
}

let jobCounter = 0;

export class EdgeRouter {
  readonly chat: {
    readonly completions: {
      create(request: ChatCompletionRequest & { stream?: false | null }, options?: CreateOptions): Promise<RoutedCompletion>;
      create(request: ChatCompletionRequest & { stream: true }, options?: CreateOptions): Promise<AsyncIterable<RoutedChunk>>;
    };
  };

  /**
   * fetch for an OpenAI-compatible client: `new OpenAI({ baseURL, apiKey: 'unused', fetch:
   * router.fetch, dangerouslyAllowBrowser: true })` routes every chat.completions call through
   * this router (see createOpenAIFetch).
   */
  readonly fetch: OpenAIFetch;

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
      if (!(Number.isFinite(m.cost) && m.cost >= 0))
        throw new EdgeRouteError('invalid-config', `cloud model "${m.id}": cost must be a finite number ≥ 0 USD per call, got ${m.cost}`);
    }
    const lambda = options.lambda ?? 0;
    if (typeof lambda === 'number' && !(lambda >= 0)) throw new EdgeRouteError('invalid-config', `lambda must be a number ≥ 0, got ${lambda}`);
    if (typeof lambda !== 'number' && lambda.kind === 'cloudShare' && !(lambda.share >= 0 && lambda.share <= 1)) {
      throw new EdgeRouteError(
        'invalid-config',
        `lambda.share must be a fraction between 0 and 1 (0.3 sends 30% of prompts to the cloud), got ${lambda.share}`,
      );
    }
    const adaptive = this.mode === 'hybrid' && typeof lambda !== 'number' && lambda.kind === 'cloudShare';
    const preRouteShare = options.preRouteShare ?? 0.5;
    if (!(preRouteShare >= 0 && preRouteShare <= 1)) throw new EdgeRouteError('invalid-config', `preRouteShare must be in [0, 1], got ${preRouteShare}`);
    this.controller = adaptive ? new EscalationController(lambda.share) : undefined;
    this.lambdaValue =
      typeof lambda === 'number' ? Promise.resolve(lambda) : this.calibrate(adaptive ? { kind: 'cloudShare', share: lambda.share * preRouteShare } : lambda);
    // An unreachable target is reported by lambda() and by every request; until one of them
    // awaits it, it must not surface as an unhandled rejection (fatal in Node).
    this.lambdaValue.catch(() => undefined);
    // `?.`: a null or non-object request must reach validation's typed error, not a TypeError here.
    const create = ((request: ChatCompletionRequest, createOptions?: CreateOptions | null) =>
      (request as Partial<ChatCompletionRequest> | null | undefined)?.stream === true
        ? this.createStream(request, createOptions ?? {})
        : this.createCompletion(request, createOptions ?? {})) as EdgeRouter['chat']['completions']['create'];
    this.chat = { completions: { create } };
    this.fetch = createOpenAIFetch(this);
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
        `The lambda target ${describeTarget(target)} cannot be met on the routing profile's validation prompts: the closest `
          + `operating point reaches ${formatAchieved(target, result.achieved)} (λ = ${result.lambda}). Loosen the target, or pass a number for lambda.`,
      );
    }
    return result.lambda;
  }

  private online(): boolean {
    return (this.options.online ?? browserOnline)();
  }

  /**
   * Where a decided request runs: on the local model when UniRoute (or the mode) chose it and it
   * is ready, or whenever the browser is offline; else on the cloud. `notes` say why, where that
   * differs from UniRoute's choice.
   */
  private placement(route: RouteResult, cloudChoice: string): { offline: boolean; goLocal: boolean; notes: string[] } {
    const offline = !this.online() && this.mode !== 'cloud-only' && this.options.localModel !== undefined;
    const chosenLocal =
      this.mode === 'local-only'
      || this.mode === 'cascade'
      || ((this.mode === 'route' || this.mode === 'hybrid') && route.chosenModel === this.options.localModel);
    const notReady = chosenLocal ? this.localNotReady() : undefined;
    const notes: string[] = [];
    if (offline) notes.push(`The browser is offline: the local model answered${chosenLocal ? '' : ` instead of ${cloudChoice}`}, without a cloud escalation.`);
    if (notReady) notes.push(`${capitalise(notReady)}; ${cloudChoice} answered meanwhile.`);
    return { offline, goLocal: offline || (chosenLocal && notReady === undefined), notes };
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

  private async generateLocally(request: ChatCompletionRequest, signal?: AbortSignal, onChunk?: (chunk: ChatCompletionChunk) => void): Promise<GenerateResult> {
    const jobId = `router-${++jobCounter}`;
    const onAbort = (): void => this.options.worker.cancel(jobId);
    signal?.addEventListener('abort', onAbort, { once: true });
    // The engines take text messages in three roles; cloudOnlyReason() kept the rest away.
    const local = localChatRequest({ ...request, stream: false, stream_options: null });
    try {
      // The caller's abort ends the wait at once, even while the worker is still loading the
      // model (the cancel above reaches the job when it starts).
      const run = (): Promise<GenerateResult> =>
        onChunk ? this.options.worker.generate(local, { jobId }, onChunk) : this.options.worker.generate(local, { jobId });
      return await raceAbort(this.queueLocal(run, signal), signal, () => new EdgeRouteError('aborted', 'the request was aborted by the caller'));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The local answer after the cloud failed; when the local model fails too, neither could answer. */
  private async answerLocallyAfterCloud(
    request: ChatCompletionRequest,
    signal: AbortSignal | undefined,
    cloudError: unknown,
    latency: { local: number },
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

  /**
   * What the request itself decides: the id of a configured cloud model in `model` forces that
   * model; tools, tool results or a JSON response_format force the cloud (the local engines
   * cannot do them), the routing's best cloud model. In local-only mode either is an error.
   */
  private forcedBy(request: ChatCompletionRequest): Forced | undefined {
    const named = request.model !== undefined && this.options.cloudModels.some((m) => m.id === request.model) ? request.model : undefined;
    const reason = named !== undefined ? `the request named the cloud model ${named}` : cloudOnlyReason(request);
    if (reason === undefined) return undefined;
    if (this.mode === 'local-only' || this.options.cloudModels.length === 0) {
      throw new EdgeRouteError(
        'invalid-input',
        `Cannot answer in mode "${this.mode}": ${reason}, and only a cloud model can answer it. Configure a cloud model, or leave out what needs one.`,
      );
    }
    return { model: named, reason };
  }

  /** The routing decision, or a placeholder when the request named its model (nothing to decide). */
  private async decideOrForce(
    request: ChatCompletionRequest,
    lambda: number,
    signal: AbortSignal | undefined,
    forced: Forced | undefined,
  ): Promise<RouteResult> {
    if (forced?.model === undefined) return this.decide(request, lambda, signal);
    return undecidedRoute(forced.model, lambda, lastUserText(request).length);
  }

  /** The one place a routing report is built, for whole answers and streams alike. */
  private report(ctx: ReportContext, model: string, extra: Partial<RoutingReport>): RoutingReport {
    const { route } = ctx;
    return {
      mode: this.mode,
      model,
      lambda: ctx.lambda,
      predictedErrors: route.predictedErrors,
      clusterProbabilities: route.clusterProbabilities,
      routedTo: route.chosenModel,
      escalated: false,
      degraded: false,
      costUsd: 0,
      ...(ctx.forced ? { forcedCloud: ctx.forced.reason } : {}),
      ...extra,
      truncated: route.truncated,
      notes: [...ctx.notes],
      latencyMs: {
        embed: route.embedMillis,
        cluster: route.clusterMillis,
        decide: route.decideMillis,
        local: ctx.latency.local,
        cloud: ctx.latency.cloud,
        total: performance.now() - ctx.started,
      },
    };
  }

  /** A cloud answer as returned: OpenAI's shape (the provider's model name) and the report. */
  private cloudAnswer(
    ctx: ReportContext,
    model: string,
    answer: ChatCompletion & { edgerouteCost?: { usd: number } },
    extra: Partial<RoutingReport>,
  ): RoutedCompletion {
    return { ...toOpenAICompletion(answer), edgeroute: this.report(ctx, model, { costUsd: answer.edgerouteCost?.usd ?? this.costOf(model), ...extra }) };
  }

  /** A local answer as returned: its `model` is the local model's id, the same as edgeroute.model. */
  private localAnswer(ctx: ReportContext, local: GenerateResult, extra: Partial<RoutingReport>): RoutedCompletion {
    const model = this.options.localModel!;
    return { ...toOpenAICompletion(local.completion, model), edgeroute: this.report(ctx, model, { localConfidence: local.confidence.score, ...extra }) };
  }

  private async createCompletion(
    request: ChatCompletionRequest,
    { signal }: CreateOptions,
    decided?: { route: RouteResult; lambda: number; started: number; forced: Forced | undefined },
  ): Promise<RoutedCompletion> {
    validateChatRequest(request);
    const started = decided?.started ?? performance.now();
    const forced = decided ? decided.forced : this.forcedBy(request);
    const lambda = decided?.lambda ?? (await this.lambdaValue);
    const route = decided?.route ?? (await this.decideOrForce(request, lambda, signal, forced));
    const latency = { local: 0, cloud: 0 };
    const cloudChoice = forced?.model ?? this.bestCloud(route, lambda);
    const notes = [...route.notes];
    const ctx: ReportContext = { route, lambda, started, latency, notes, forced };

    const askCloud = async (model = cloudChoice): Promise<ChatCompletion & { edgerouteCost?: { usd: number } }> => {
      const t = performance.now();
      try {
        return await this.options.cloud.chat(model, request, signal ? { signal } : {});
      } finally {
        latency.cloud = performance.now() - t;
      }
    };

    if (forced) {
      // No local stand-in: the local model cannot do what forced the cloud, or the caller chose the model.
      this.controller?.recordPreRouted(true);
      notes.push(`${capitalise(forced.reason)}; ${cloudChoice} answered.`);
      try {
        return this.cloudAnswer(ctx, cloudChoice, await askCloud(), {});
      } catch (cloudError) {
        if (signal?.aborted || errorCode(cloudError) === 'aborted') throw asAborted(cloudError);
        throw cloudError;
      }
    }

    const { offline, goLocal, notes: why } = this.placement(route, cloudChoice);
    notes.push(...why);
    this.controller?.recordPreRouted(!goLocal);
    if (!goLocal) {
      try {
        return this.cloudAnswer(ctx, cloudChoice, await askCloud(), {});
      } catch (cloudError) {
        if (signal?.aborted || errorCode(cloudError) === 'aborted') throw asAborted(cloudError);
        // The README's promise: with a local model, a dead cloud degrades to the local answer.
        if (!this.options.localModel || this.mode === 'cloud-only' || !isCloudFailure(cloudError)) throw cloudError;
        notes.push(`${cloudChoice} failed (${describeError(cloudError)}); the local model answered instead.`);
        const local = await this.answerLocallyAfterCloud(request, signal, cloudError, latency);
        return this.localAnswer(ctx, local, { degraded: true });
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
        return this.cloudAnswer(ctx, cloudChoice, await askCloud(), { escalated: true });
      } catch (cloudError) {
        throw unavailable(localError, cloudError);
      }
    }

    const confidence = local.confidence.score;
    // A lazy chunk: an app that never answers locally does not download it; one that fails to load leaves the answer unjudged.
    const judging =
      offline || (this.mode !== 'cascade' && this.mode !== 'hybrid')
        ? undefined
        : await import('./local-judgement').catch(
            (error: unknown) => `Could not load the judgement of local answers (${describeError(error)}); the local answer is kept.`,
          );
    const judged =
      judging === undefined
        ? undefined
        : typeof judging === 'string'
          ? { escalate: false, target: cloudChoice, rule: 'threshold' as const, note: judging }
          : judging.judgeLocal({
              route,
              lambda,
              confidence: local.confidence,
              cloudChoice,
              cloudModels: this.options.cloudModels,
              controller: this.controller,
              threshold: this.options.confidenceThreshold,
            });
    if (judged?.note) notes.push(judged.note);
    const judgement = judged ? { escalationRule: judged.rule, ...(judged.localError !== undefined ? { localError: judged.localError } : {}) } : {};
    if (!judged?.escalate) return this.localAnswer(ctx, local, judgement);
    try {
      return this.cloudAnswer(ctx, judged.target, await askCloud(judged.target), { localConfidence: confidence, escalated: true, ...judgement });
    } catch (cloudError) {
      if (signal?.aborted || (cloudError as { code?: string }).code === 'aborted') throw asAborted(cloudError);
      // The cloud is unreachable after its retries: the local answer, marked degraded, beats nothing.
      notes.push(`The local answer was not confident enough, but the cloud failed (${describeError(cloudError)}); the local answer is returned.`);
      return this.localAnswer(ctx, local, { escalated: true, degraded: true, ...judgement });
    }
  }

  /**
   * Streaming: a cloud answer is passed on chunk by chunk as the provider sends it; a local
   * answer streams token by token where nothing can replace it (route, local-only, offline),
   * and in hybrid and cascade arrives as one chunk, since it is known to be kept only once it is
   * complete (its confidence needs every token). The last chunk carries the routing report; a
   * usage chunk (empty choices) ends the stream only when stream_options.include_usage asked.
   */
  private async createStream(request: ChatCompletionRequest, options: CreateOptions): Promise<AsyncIterable<RoutedChunk>> {
    validateChatRequest(request);
    const started = performance.now();
    const forced = this.forcedBy(request);
    const lambda = await this.lambdaValue;
    const route = await this.decideOrForce(request, lambda, options.signal, forced);
    const cloudChoice = forced?.model ?? this.bestCloud(route, lambda);
    const includeUsage = wantsStreamUsage(request);
    if (forced) {
      this.controller?.recordPreRouted(true);
      const notes = [...route.notes, `${capitalise(forced.reason)}; ${cloudChoice} answered.`];
      return this.streamCloud(cloudChoice, request, { route, lambda, started, latency: { local: 0, cloud: 0 }, notes, forced }, options.signal);
    }
    const { offline, goLocal, notes: why } = this.placement(route, cloudChoice);
    if (!goLocal) {
      this.controller?.recordPreRouted(true);
      const notes = [...route.notes, ...why];
      const stream = this.streamCloud(cloudChoice, request, { route, lambda, started, latency: { local: 0, cloud: 0 }, notes, forced }, options.signal);
      return this.localModelAfterFailedStream(stream, request, options, { route, lambda, started });
    }
    // Without an escalation to wait for, the local answer streams token by token.
    if (offline || this.mode === 'local-only' || this.mode === 'route') {
      this.controller?.recordPreRouted(false);
      const notes = [...route.notes, ...why];
      return this.streamLocal(request, options.signal, { route, lambda, started, latency: { local: 0, cloud: 0 }, notes, forced: undefined }, cloudChoice);
    }
    // The decision is made: the local path reuses it rather than embedding the prompt again.
    const completion = await this.createCompletion({ ...request, stream: false, stream_options: null }, options, { route, lambda, started, forced });
    return singleChunk(completion, includeUsage, request);
  }

  /**
   * The local model's answer, chunk by chunk as the worker generates it (modes and states in
   * which nothing can escalate it). Closing chunks wait for the end to carry the report. A
   * local failure before the first chunk is answered by the cloud (outside local-only mode),
   * as in a whole answer; after it, the stream ends with the error. A worker or engine that
   * does not stream gives the whole answer as one chunk.
   */
  private streamLocal(request: ChatCompletionRequest, signal: AbortSignal | undefined, ctx: ReportContext, cloudChoice: string): AsyncIterable<RoutedChunk> {
    const includeUsage = wantsStreamUsage(request);
    const localModel = this.options.localModel!;
    const queue: ChatCompletionChunk[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    let result: GenerateResult | undefined;
    let failure: unknown;
    const started = performance.now();
    // Stopping early (break, return) cancels the generation in the worker, as the caller's abort does.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    if (signal?.aborted) stop.abort(signal.reason);
    else signal?.addEventListener('abort', onAbort, { once: true });
    void this.generateLocally(request, stop.signal, (chunk) => {
      queue.push(chunk);
      wake?.();
    })
      .then(
        (r) => {
          result = r;
        },
        (e: unknown) => {
          failure = e;
        },
      )
      .finally(() => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        ctx.latency.local = performance.now() - started;
        wake?.();
      });
    const self = this;
    return (async function* localChunks(): AsyncIterable<RoutedChunk> {
      try {
        yield* chunks();
      } finally {
        if (!settled) stop.abort(new DOMException('The stream was closed by its consumer.', 'AbortError'));
      }
    })();

    async function* chunks(): AsyncIterable<RoutedChunk> {
      let passed = 0;
      let held: ChatCompletionChunk[] = [];
      for (;;) {
        while (queue.length > 0) {
          const chunk = queue.shift()!;
          if (chunk.choices.length === 0 || chunk.choices.every((c) => c.finish_reason !== null)) {
            held.push(chunk);
            continue;
          }
          for (const h of held) yield toOpenAIChunk(h, includeUsage, localModel);
          held = [];
          passed++;
          yield toOpenAIChunk(chunk, includeUsage, localModel);
        }
        if (settled) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (queue.length > 0 || settled) resolve();
        });
        wake = undefined;
      }
      if (!result) {
        if (signal?.aborted || errorCode(failure) === 'aborted') throw asAborted(failure);
        if (passed > 0 || self.mode === 'local-only') throw failure;
        ctx.notes.push(`The local model failed (${describeError(failure)}); ${cloudChoice} answered instead.`);
        yield* self.streamCloud(cloudChoice, request, ctx, signal);
        return;
      }
      const report = self.report(ctx, localModel, { localConfidence: result.confidence.score });
      if (passed === 0) {
        // Nothing streamed (an older worker, an engine without chatStream): the whole answer at once.
        yield* singleChunk({ ...toOpenAICompletion(result.completion, localModel), edgeroute: report }, includeUsage, request);
        return;
      }
      if (!includeUsage) held = held.filter((c) => c.choices.length > 0);
      else if (!held.some((c) => c.choices.length === 0)) {
        const c = toOpenAICompletion(result.completion, localModel);
        held.push({
          id: c.id,
          object: 'chat.completion.chunk',
          created: c.created,
          model: localModel,
          choices: [],
          usage: c.usage ?? estimatedUsage(c, request),
        });
      }
      const tail = held.pop();
      for (const h of held) yield toOpenAIChunk(h, includeUsage, localModel);
      const last = tail ?? {
        id: result.completion.id,
        object: 'chat.completion.chunk' as const,
        created: result.completion.created,
        model: localModel,
        choices: [],
      };
      yield { ...toOpenAIChunk(last, includeUsage, localModel), edgeroute: report };
    }
  }

  /**
   * A cloud stream that fails before its first chunk (the provider is unreachable after its
   * retries) is answered by the local model, as one chunk marked degraded. Once chunks have
   * been passed on, a failure ends the stream with the error.
   */
  private localModelAfterFailedStream(
    stream: AsyncIterable<RoutedChunk>,
    request: ChatCompletionRequest,
    options: CreateOptions,
    decided: { route: RouteResult; lambda: number; started: number },
  ): AsyncIterable<RoutedChunk> {
    if (!this.options.localModel || this.mode === 'cloud-only') return stream;
    const fallback = async (cloudError: unknown): Promise<RoutedCompletion> => {
      const notes = [
        ...decided.route.notes,
        `${this.bestCloud(decided.route, decided.lambda)} failed (${describeError(cloudError)}); the local model answered instead.`,
      ];
      const latency = { local: 0, cloud: 0 };
      const local = await this.answerLocallyAfterCloud(request, options.signal, cloudError, latency);
      return this.localAnswer({ ...decided, latency, notes, forced: undefined }, local, { degraded: true });
    };
    const includeUsage = wantsStreamUsage(request);
    return (async function* guarded(): AsyncIterable<RoutedChunk> {
      let yielded = false;
      try {
        for await (const chunk of stream) {
          yielded = true;
          yield chunk;
        }
      } catch (cloudError) {
        if (yielded || options.signal?.aborted || errorCode(cloudError) === 'aborted' || !isCloudFailure(cloudError)) throw cloudError;
        yield* singleChunk(await fallback(cloudError), includeUsage, request);
      }
    })();
  }

  /**
   * The provider's chunks, each passed on as soon as it arrives, except the closing ones (a
   * finish_reason on every choice, or no choices: the usage chunk): those are held until the
   * stream ends, so the report can ride on the last chunk without an extra one. The usage
   * chunk is always requested from the provider (for the cost) but passed on only when the
   * caller asked for it.
   */
  private async *streamCloud(model: string, request: ChatCompletionRequest, ctx: ReportContext, signal?: AbortSignal): AsyncIterable<RoutedChunk> {
    const started = performance.now();
    const includeUsage = wantsStreamUsage(request);
    let costUsd: number | undefined;
    let held: ChatCompletionChunk[] = [];
    let last: ChatCompletionChunk | undefined;
    const stream = this.options.cloud.stream(model, request, {
      ...(signal ? { signal } : {}),
      onCost: (cost) => {
        costUsd = cost.usd;
      },
    });
    for await (const chunk of stream) {
      last = chunk;
      const closing = chunk.choices.length === 0 || chunk.choices.every((c) => c.finish_reason !== null);
      if (closing) {
        held.push(chunk);
        continue;
      }
      for (const h of held) yield toOpenAIChunk(h, includeUsage);
      held = [];
      yield toOpenAIChunk(chunk, includeUsage);
    }
    ctx.latency.cloud = performance.now() - started;
    const report = this.report(ctx, model, { costUsd: costUsd ?? this.costOf(model) });
    if (!includeUsage) held = held.filter((c) => c.choices.length > 0);
    const tail = held.pop();
    for (const h of held) yield toOpenAIChunk(h, includeUsage);
    if (tail) {
      yield { ...toOpenAIChunk(tail, includeUsage), edgeroute: report };
    } else {
      // The provider ended without a closing chunk: an empty one carries the report.
      yield {
        id: last?.id ?? '',
        object: 'chat.completion.chunk',
        created: last?.created ?? Math.floor(Date.now() / 1000),
        model: last?.model ?? model,
        choices: [],
        edgeroute: report,
      };
    }
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
      const none = undecidedRoute('', lambda, prompt.length);
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

/** A route taken without UniRoute's decision (a forced model, or routing that failed): no clusters, no timings. */
function undecidedRoute(chosenModel: string, lambda: number, promptChars: number): RouteResult {
  return {
    clusterProbabilities: [],
    predictedErrors: {},
    chosenModel,
    lambda,
    embedMillis: 0,
    clusterMillis: 0,
    decideMillis: 0,
    promptChars,
    embeddedChars: 0,
    truncated: false,
    notes: [],
  };
}

/**
 * A whole completion as a stream: one chunk with every choice's text, then, when asked for,
 * the usage chunk (the engine's counts, else estimated from characters); the last carries the report.
 */
async function* singleChunk(completion: RoutedCompletion, includeUsage: boolean, request: ChatCompletionRequest): AsyncIterable<RoutedChunk> {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model };
  const content: RoutedChunk = {
    ...base,
    choices: completion.choices.map((c) => ({
      index: c.index,
      delta: {
        role: 'assistant' as const,
        content: c.message.content ?? '',
        ...(c.message.tool_calls ? { tool_calls: c.message.tool_calls.map((t, index) => ({ index, ...t })) } : {}),
      },
      finish_reason: c.finish_reason,
      logprobs: c.logprobs,
    })),
  };
  if (!includeUsage) {
    yield { ...content, edgeroute: completion.edgeroute };
    return;
  }
  yield content;
  yield { ...base, choices: [], usage: completion.usage ?? estimatedUsage(completion, request), edgeroute: completion.edgeroute };
}

/** Usage when an engine counted no tokens: about 4 characters per token, like the cloud client's estimate. */
function estimatedUsage(completion: OpenAIChatCompletion, request: ChatCompletionRequest): CompletionUsage {
  const promptTokens = tokensForChars(request.messages.reduce((n, m) => n + contentText(m.content).length, 0));
  const completionTokens = tokensForChars(completion.choices.reduce((n, c) => n + (c.message.content?.length ?? 0), 0));
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
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
    case 'cloudShare':
      return `cloudShare ${target.share}`;
    case 'budget':
      return `budget ${target.usdPer1000} USD per 1,000 prompts`;
    case 'qualityFloor':
      return `qualityFloor ${target.quality}`;
  }
}

function formatAchieved(target: LambdaTarget, achieved: number): string {
  switch (target.kind) {
    case 'cloudShare':
      return `a cloud share of ${achieved.toFixed(3)}`;
    case 'budget':
      return `${achieved.toFixed(4)} USD per 1,000 prompts`;
    case 'qualityFloor':
      return `a quality of ${achieved.toFixed(3)}`;
  }
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
    `No model could answer: the local model failed (${message(localError)}) and the cloud failed (${message(cloudError)}). `
      + 'Check the network and the cloud endpoint; the local model needs WebGPU or WASM and its files.',
    { cause: cloudError },
  );
}
