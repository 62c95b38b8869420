import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { kvGet, kvKeys, kvSet, openKvStore, type KvStore } from '../../src/worker/storage/kv';
import { UniRouteState, autoClusterCount, rankModels, type PrepareProgress } from '../../src/worker/profile-state';
import { validateValidationSet, type ValidationSet } from '../../src/common/validation-set';
import { PROFILE_SCHEMA_VERSION, type ProfileEntry } from '../../src/worker/storage/profile-cache';
import { createFakeEmbedder } from '../helpers/fake-embedder';

const tiny = validateValidationSet(JSON.parse(readFileSync('test/fixtures/tiny-validation.json', 'utf8')));
let dbCount = 0;
const freshStore = (): KvStore => openKvStore(`uniroute-state-test-${dbCount++}`, 'cache');

/** The set without `modelId`, as if the site had never scored it. */
function without(set: ValidationSet, modelId: string): ValidationSet {
  return {
    ...set,
    models: set.models.filter((m) => m.id !== modelId),
    prompts: set.prompts.map((p) => {
      const { [modelId]: _s, ...scores } = p.scores;
      const { [modelId]: _c, ...confidences } = p.confidences ?? {};
      return { ...p, scores, confidences };
    }),
  };
}

async function embed(text: string): Promise<Float32Array> {
  return (await createFakeEmbedder().embed([text]))[0]!;
}

describe('autoClusterCount', () => {
  it('is round(√(n/2)), at most n/10 and 32, at least 1', () => {
    expect(autoClusterCount(400)).toBe(14);
    expect(autoClusterCount(40)).toBe(4);
    expect(autoClusterCount(19)).toBe(1);
    expect(autoClusterCount(100_000)).toBe(32);
  });
});

describe('UniRouteState.prepare and the IndexedDB cache', () => {
  it('computes and caches on first load; a fresh instance then computes nothing', async () => {
    const store = freshStore();
    const embedder = createFakeEmbedder();
    const progress: PrepareProgress[] = [];
    const first = await UniRouteState.prepare({ embedder, validationSet: tiny, store, batchSize: 16, onProgress: (p) => progress.push(p) });
    expect(first.counters).toMatchObject({ validationPromptsEmbedded: 40, profilesComputed: 1, cacheHits: 0, cacheWrites: 1 });
    expect(embedder.calls).toEqual({ texts: 40, batches: 3 });
    expect(progress.filter((p) => p.phase === 'embedding').map((p) => p.done)).toEqual([0, 16, 32, 40]);
    expect(progress.at(-1)?.phase).toBe('ready');
    const summary = first.summary();
    expect(summary).toMatchObject({ k: 4, prompts: 40, source: 'computed', embedderId: 'fake-hash-64', validationSet: 'edgeroute-tiny' });
    expect(summary.models.map((m) => m.id)).toEqual(['llama3.2-1b', 'gpt-4o-mini', 'gpt-4o']);
    expect(await kvKeys(store)).toEqual([summary.cacheKey]);
    expect(summary.cacheKey).toMatch(new RegExp(`^uniroute:v${PROFILE_SCHEMA_VERSION}:fake-hash-64:[0-9a-f]{64}:k4$`));

    const embedder2 = createFakeEmbedder();
    const second = await UniRouteState.prepare({ embedder: embedder2, validationSet: tiny, store });
    expect(second.counters).toMatchObject({ validationPromptsEmbedded: 0, profilesComputed: 0, cacheHits: 1, cacheWrites: 0 });
    expect(embedder2.calls.texts).toBe(0);
    expect(second.summary().source).toBe('hit');
    const x = await embed('Which drug is a soft steroid used in bronchial asthma?');
    expect(second.predictErrors(x)).toEqual(first.predictErrors(x));
    expect(second.clusterProbabilities(x)).toEqual(first.clusterProbabilities(x));
    expect(JSON.parse(JSON.stringify(second)).counters.cacheHits).toBe(1);
  });

  it('rebuilds a corrupted entry once, then hits again', async () => {
    const store = freshStore();
    const first = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const key = first.summary().cacheKey;
    const stored = (await kvGet<ProfileEntry>(store, key))!;
    await kvSet(store, key, { ...stored, featureVectors: stored.featureVectors.map((f) => f.map(() => NaN)) });

    const rebuilt = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    expect(rebuilt.counters).toMatchObject({ profilesComputed: 1, validationPromptsEmbedded: 40, cacheRebuilds: { corrupt: 1, stale: 0, otherEmbedder: 0 } });
    const again = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    expect(again.counters).toMatchObject({ cacheHits: 1, profilesComputed: 0, validationPromptsEmbedded: 0 });

    await kvSet(store, key, 'garbage');
    const fromGarbage = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    expect(fromGarbage.counters.cacheRebuilds.corrupt).toBe(1);
  });

  it('replaces the entry of another embedder and of an older schema', async () => {
    const store = freshStore();
    const a = await UniRouteState.prepare({ embedder: createFakeEmbedder({ id: 'embedder-a' }), validationSet: tiny, store });
    const b = await UniRouteState.prepare({ embedder: createFakeEmbedder({ id: 'embedder-b' }), validationSet: tiny, store });
    expect(b.counters).toMatchObject({ profilesComputed: 1, cacheRebuilds: { otherEmbedder: 1, stale: 0, corrupt: 0 } });
    expect(await kvKeys(store)).toEqual([b.summary().cacheKey]);
    expect(a.summary().cacheKey).not.toBe(b.summary().cacheKey);

    const old = b.summary().cacheKey.replace(/^uniroute:v\d+:/, 'uniroute:v0:');
    await kvSet(store, old, { schemaVersion: 0 });
    await kvSet(store, b.summary().cacheKey, undefined);
    const c = await UniRouteState.prepare({ embedder: createFakeEmbedder({ id: 'embedder-b' }), validationSet: tiny, store });
    expect(c.counters.cacheRebuilds).toEqual({ stale: 1, corrupt: 0, otherEmbedder: 0 });
    expect(await kvKeys(store)).toEqual([c.summary().cacheKey]);
  });

  it('keys the cache by K and by validation content', async () => {
    const store = freshStore();
    const k4 = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const k2 = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store, k: 2 });
    expect(k2.counters.profilesComputed).toBe(1);
    expect(k2.summary().clusters).toBe(2);
    const edited = { ...tiny, prompts: tiny.prompts.slice(1) };
    const e = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: edited, store });
    expect(e.counters.profilesComputed).toBe(1);
    expect(new Set([k4, k2, e].map((s) => s.summary().cacheKey)).size).toBe(3);
  });

  it('keeps routing in memory when the store refuses writes (quota) or everything', async () => {
    const real = freshStore();
    const quota: KvStore = {
      ...real,
      use: (mode, callback) => (mode === 'readwrite' ? Promise.reject(new DOMException('full', 'QuotaExceededError')) : real.use(mode, callback)),
    };
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store: quota });
    expect(state.counters).toMatchObject({ profilesComputed: 1, cacheWrites: 0, storageFailures: 1 });
    expect(state.summary().lastStorageError).toMatch(/quota exceeded/);
    const x = await embed('a question about algebra');
    expect(state.decide(x, 0).modelId).toBeTypeOf('string');
    await state.addModel({ id: 'extra', cost: 0.01, scores: { [tiny.prompts[0]!.id]: 1 } });
    expect(state.counters.storageFailures).toBe(2);

    const broken: KvStore = { ...real, use: () => Promise.reject(new Error('blocked')) };
    const mem = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store: broken });
    expect(mem.counters).toMatchObject({ profilesComputed: 1, storageFailures: 2 });
    const noStore = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    expect(noStore.summary().source).toBe('memory');
  });

  it('rejects bad input with EdgeRouteError and honours an aborted signal', async () => {
    await expect(UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: { ...tiny, prompts: [] } })).rejects.toMatchObject({
      code: 'invalid-config',
    });
    await expect(UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, k: 0 })).rejects.toMatchObject({ code: 'invalid-config' });
    const controller = new AbortController();
    controller.abort();
    await expect(UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, signal: controller.signal })).rejects.toMatchObject({
      code: 'aborted',
    });
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    expect(() => state.predictErrors(new Float32Array(3))).toThrow(EdgeRouteError);
    expect(() => state.decide(new Float32Array(64).fill(0.125), -1)).toThrow(/lambda/);
    expect(() => state.decide(new Float32Array(64).fill(0.125), 0, ['nope'])).toThrow(/unknown model "nope"/);
  });
});

describe('routing with the state', () => {
  it('decides with core rules, over a chosen pool of candidates', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    const x = await embed('Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.');
    const errors = state.predictErrors(x);
    const cheapest = state.decide(x, Infinity);
    expect(cheapest.modelId).toBe('llama3.2-1b');
    const best = state.decide(x, 0);
    expect(errors[best.modelId]).toBe(Math.min(...Object.values(errors)));
    const cloudOnly = state.decide(x, Infinity, ['gpt-4o', 'gpt-4o-mini']);
    expect(cloudOnly.modelId).toBe('gpt-4o-mini');
    expect(cloudOnly.modelIndex).toBe(1);
    expect(cloudOnly.predictedErrors).toHaveLength(3);
  });

  it('decideTimed rejects an embedding of the wrong dimension with a typed error', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    expect(() => state.decideTimed(new Float32Array(3), 0)).toThrow(EdgeRouteError);
  });

  it('ranks every candidate best first, agreeing with the decision for any λ and pool', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    const costs = Object.fromEntries(state.models.map((m) => [m.id, m.cost]));
    const pools: (readonly string[] | undefined)[] = [undefined, ['gpt-4o', 'gpt-4o-mini'], ['llama3.2-1b', 'gpt-4o']];
    const lambdas = [0, 1, 10, 50, 200, 1000, Infinity];
    let checked = 0;
    const orders = new Set<string>();
    for (const p of tiny.prompts) {
      const x = await embed(p.prompt);
      const errors = state.predictErrors(x);
      for (const lambda of lambdas) {
        for (const pool of pools) {
          const timed = state.decideTimed(x, lambda, pool);
          const ids = timed.ranking.map((r) => r.id);
          expect(ids[0]).toBe(timed.modelId);
          expect([...ids].sort()).toEqual([...(pool ?? state.models.map((m) => m.id))].sort());
          for (const r of timed.ranking) {
            expect(r.predictedError).toBe(errors[r.id]);
            expect(r.cost).toBe(costs[r.id]);
            expect(r.objective).toBe(lambda === Infinity ? errors[r.id] : errors[r.id]! + lambda * costs[r.id]!);
          }
          // Best first: objectives never fall (λ = ∞: costs never fall).
          const keys = timed.ranking.map((r) => (lambda === Infinity ? r.cost : r.objective));
          keys.slice(1).forEach((k, i) => expect(k).toBeGreaterThanOrEqual(keys[i]! - 1e-12));
          // The best cloud model the page needs is the first cloud entry.
          const cloud = timed.ranking.filter((r) => r.id !== 'llama3.2-1b');
          if (cloud.length > 0 && lambda !== Infinity) {
            expect(cloud[0]!.objective).toBe(Math.min(...cloud.map((r) => r.objective)));
          }
          if (pool === undefined) orders.add(ids.join(' > '));
          checked++;
        }
      }
    }
    expect(checked).toBe(tiny.prompts.length * lambdas.length * pools.length);
    // The prompts and λs reach several different orders of the three models, not one.
    expect(orders.size).toBeGreaterThan(2);
  });

  it('calibrates λ on the validation prompts from cached clusters', async () => {
    const store = freshStore();
    await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    expect(state.counters.cacheHits).toBe(1);
    const none = state.calibrateLambda({ kind: 'cloudShare', share: 0 });
    expect(none.feasible).toBe(true);
    expect(none.shares['llama3.2-1b']).toBe(1);
    const half = state.calibrateLambda({ kind: 'cloudShare', share: 0.5 });
    expect(half.achieved).toBeLessThanOrEqual(0.5);
    expect(half.lambda).toBeLessThanOrEqual(none.lambda);
    const floor = state.calibrateLambda({ kind: 'qualityFloor', quality: 0.6 });
    expect(floor.quality).toBeGreaterThanOrEqual(0.6);
  });
});

describe('rankModels breaks ties as the decision does', () => {
  const models = [
    { id: 'a', cost: 0 },
    { id: 'b', cost: 0.01 },
    { id: 'c', cost: 0.001 },
    { id: 'd', cost: 0.001 },
  ];
  it('equal objectives: the cheaper model first, then the lower index', () => {
    // λ = 0: b, c and d tie at 0.2; c and d are cheaper than b, c comes before d.
    expect(rankModels([0.3, 0.2, 0.2, 0.2], models, 0).map((r) => r.id)).toEqual(['c', 'd', 'b', 'a']);
    // Within 1e-12 counts as a tie too (core route()'s TIE_EPS).
    expect(rankModels([0.3, 0.2, 0.2 + 1e-13, 0.2], models, 0).map((r) => r.id)).toEqual(['c', 'd', 'b', 'a']);
    // λ = 10: a 0.3, b 0.3, c 0.21, d 0.21 → c, d, then a (cheaper than b).
    const ranked = rankModels([0.3, 0.2, 0.2, 0.2], models, 10);
    expect(ranked.map((r) => r.id)).toEqual(['c', 'd', 'a', 'b']);
    expect(ranked[2]!.objective).toBeCloseTo(0.3, 12);
  });
  it('λ = Infinity: cheapest first, then the lower predicted error; objective is the error', () => {
    const ranked = rankModels([0.9, 0.1, 0.5, 0.4], models, Infinity);
    expect(ranked.map((r) => r.id)).toEqual(['a', 'd', 'c', 'b']);
    expect(ranked.map((r) => r.objective)).toEqual([0.9, 0.4, 0.5, 0.1]);
  });
  it('ranks only the pool it is given', () => {
    expect(rankModels([0.3, 0.2, 0.25, 0.1], models, 0, [0, 2]).map((r) => r.id)).toEqual(['c', 'a']);
  });
});

describe('adding a model the set did not score', () => {
  it('addModel from validation scores equals building with the model from scratch, and persists', async () => {
    const store = freshStore();
    const withAll = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const partial = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: without(tiny, 'gpt-4o'), store });
    const scores = Object.fromEntries(tiny.prompts.map((p) => [p.id, p.scores['gpt-4o']!]));
    const added = await partial.addModel({ id: 'gpt-4o', cost: tiny.models.find((m) => m.id === 'gpt-4o')!.cost, scores });
    expect(added.origin).toBe('added');
    expect(added.globalError).toBeCloseTo(withAll.models.find((m) => m.id === 'gpt-4o')!.globalError, 12);
    for (const text of tiny.prompts
      .slice(0, 10)
      .map((p) => p.prompt)
      .concat('unrelated words entirely')) {
      const x = await embed(text);
      const a = partial.predictErrors(x);
      const b = withAll.predictErrors(x);
      for (const id of Object.keys(b)) expect(a[id], `${id} on ${text.slice(0, 30)}`).toBeCloseTo(b[id]!, 12);
      expect(partial.decide(x, 1000).modelId).toBe(withAll.decide(x, 1000).modelId);
    }
    expect(partial.calibrateLambda({ kind: 'qualityFloor', quality: 0.7 }).quality).toBeCloseTo(
      withAll.calibrateLambda({ kind: 'qualityFloor', quality: 0.7 }).quality,
      12,
    );

    const reloaded = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: without(tiny, 'gpt-4o'), store });
    expect(reloaded.counters).toMatchObject({ cacheHits: 1, profilesComputed: 0 });
    expect(reloaded.models.map((m) => `${m.id}:${m.origin}`)).toEqual(['llama3.2-1b:validation-set', 'gpt-4o-mini:validation-set', 'gpt-4o:added']);
  });

  it('addModel rejects duplicates, unknown prompts and bad scores', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    const id0 = tiny.prompts[0]!.id;
    await expect(state.addModel({ id: 'gpt-4o', cost: 1, scores: { [id0]: 1 } })).rejects.toThrow(/already in the profile/);
    await expect(state.addModel({ id: 'm', cost: 1, scores: { nope: 1 } })).rejects.toThrow(/unknown validation prompt "nope"/);
    await expect(state.addModel({ id: 'm', cost: 1, scores: { [id0]: 2 } })).rejects.toThrow(/not in \[0, 1\]/);
    await expect(state.addModel({ id: 'm', cost: NaN, scores: { [id0]: 1 } })).rejects.toThrow(/cost/);
    await expect(state.addModel({ id: 'm', cost: 0.1, local: true, scores: { [id0]: 1 } })).rejects.toThrow(/local/);
    await expect(state.addModel({ id: 'm', cost: 1, scores: {} })).rejects.toThrow(/no scores/);
    expect(state.models).toHaveLength(3);
  });

  it('measureModel grades answers, reports progress, and adds the model', async () => {
    const store = freshStore();
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const gradable = tiny.prompts.filter((p) => p.reference !== undefined);
    const byPrompt = new Map(gradable.map((p, i) => [p.prompt, { p, right: i % 3 !== 0 }]));
    // Right on two prompts in three, answering the way chat models do.
    const answer = async (prompt: string): Promise<string> => {
      const { p, right } = byPrompt.get(prompt)!;
      const letter = right ? p.reference! : 'ABCD'.replace(p.reference!, '')[0]!;
      return `The answer is (${letter}).`;
    };
    const progress: { done: number; total: number; correct: number }[] = [];
    const result = await state.measureModel({ id: 'phi-3.5-mini', cost: 0, local: true, answer, onProgress: (p) => progress.push(p), concurrency: 3 });
    const expected = gradable.filter((_, i) => i % 3 !== 0).length;
    expect(result).toMatchObject({ id: 'phi-3.5-mini', total: gradable.length, correct: expected });
    expect(progress).toHaveLength(gradable.length);
    expect(progress.at(-1)).toEqual({ done: gradable.length, total: gradable.length, correct: expected });
    expect(progress.map((p) => p.done)).toEqual(gradable.map((_, i) => i + 1));
    const model = state.models.find((m) => m.id === 'phi-3.5-mini')!;
    expect(model).toMatchObject({ origin: 'added', local: true, cost: 0 });
    expect(model.globalError).toBeCloseTo(1 - expected / gradable.length, 12);
    const reloaded = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    expect(reloaded.models.map((m) => m.id)).toContain('phi-3.5-mini');
  });

  it('cancelling measureModel mid-way rejects with aborted and persists nothing', async () => {
    const store = freshStore();
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny, store });
    const key = state.summary().cacheKey;
    const before = await kvGet<ProfileEntry>(store, key);
    const controller = new AbortController();
    let calls = 0;
    let sawAbort = false;
    // Never settles by itself after the 5th call: the abort must not wait for it.
    const answer = (_prompt: string, signal: AbortSignal): Promise<string> => {
      calls++;
      if (calls === 5) {
        signal.addEventListener('abort', () => {
          sawAbort = true;
        });
        queueMicrotask(() => controller.abort(new Error('user pressed stop')));
        return new Promise(() => undefined);
      }
      return Promise.resolve('A');
    };
    const progress: number[] = [];
    await expect(
      state.measureModel({ id: 'slow', cost: 0.001, answer, signal: controller.signal, onProgress: (p) => progress.push(p.done) }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(sawAbort).toBe(true);
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(state.models.map((m) => m.id)).not.toContain('slow');
    const after = await kvGet<ProfileEntry>(store, key);
    expect(after!.models.map((m) => m.id)).toEqual(before!.models.map((m) => m.id));
    expect(after!.createdAt).toBe(before!.createdAt);
  });

  it('a failing answer rejects with measurement-failed and adds nothing', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    let calls = 0;
    const answer = async (): Promise<string> => {
      if (++calls === 3) throw new Error('HTTP 500');
      return 'B';
    };
    await expect(state.measureModel({ id: 'flaky', cost: 0.001, answer, concurrency: 2 })).rejects.toMatchObject({
      code: 'measurement-failed',
      message: expect.stringMatching(/HTTP 500/),
    });
    expect(state.models.map((m) => m.id)).not.toContain('flaky');
  });
});

describe('the escalation rule of a local model', () => {
  /** The tiny set twice over (new ids): 80 prompts, enough for the rule's cross-validation. */
  const doubled: ValidationSet = { ...tiny, prompts: [...tiny.prompts, ...tiny.prompts.map((p) => ({ ...p, id: `${p.id}#2` }))] };
  const local = 'llama3.2-1b';
  const pool = ['llama3.2-1b', 'gpt-4o-mini', 'gpt-4o'];

  it("is fitted on the set's recorded confidences of their declared kind, and sent with each decision", async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: doubled });
    const [summary] = state.summary().escalation;
    expect(summary).toMatchObject({ localModelId: local, rule: { confidenceKind: 'answer-logprob', prompts: 80, folds: 6 } });
    expect(['confidence-only', 'uniroute', 'hybrid']).toContain(summary!.rule!.name);
    expect(summary!.rule).not.toHaveProperty('params');
    const decision = state.decideTimed(await embed('Which drug is a soft steroid?'), 0, pool);
    expect(decision.escalationRule).toMatchObject({ localModelId: local, confidenceKind: 'answer-logprob', name: summary!.rule!.name });
    expect(Object.keys(decision.escalationRule!.params.models).sort()).toEqual([...pool].sort());
    // Without a cloud model there is nothing to escalate to; without the local one, nothing to judge.
    expect(state.decideTimed(await embed('x'), 0, [local]).escalationRule).toBeUndefined();
    expect(state.decideTimed(await embed('x'), 0, ['gpt-4o']).escalationRule).toBeUndefined();
  });

  it('says why there is none: confidences of unknown kind, too few of them', async () => {
    const unnamed = { ...doubled, models: doubled.models.map(({ confidenceKind: _k, ...m }) => m) };
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: unnamed });
    expect(state.summary().escalation).toEqual([
      { localModelId: local, unavailable: expect.stringMatching(/not what they measure \(its model's "confidenceKind"\)/) },
    ]);
    expect(state.decideTimed(await embed('x'), 0, pool).escalationRule).toBeUndefined();
    const few = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    expect(few.summary().escalation).toEqual([{ localModelId: local, rule: expect.objectContaining({ prompts: 40 }) }]);
    const sparse = { ...tiny, prompts: tiny.prompts.map((p, i) => (i < 30 ? p : { ...p, confidences: {} })) };
    const state2 = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: sparse });
    expect(state2.summary().escalation[0]!.unavailable).toMatch(/fewer than 40 validation prompts carry both a score and a confidence of llama3.2-1b/);
  });

  it('of a measured local model is fitted on the confidences measured with its answers, and survives the cache', async () => {
    const store = freshStore();
    const set = without(doubled, local);
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: set, store });
    expect(state.summary().escalation).toEqual([]);
    // Right on two prompts in three (both copies of a prompt alike), sure when right and unsure
    // when wrong: the confidence carries the signal.
    const byPrompt = new Map(tiny.prompts.filter((p) => p.reference !== undefined).map((p, i) => [p.prompt, { p, right: i % 3 !== 0 }]));
    const answer = async (prompt: string) => {
      const { p, right } = byPrompt.get(prompt)!;
      const letter = right ? p.reference! : 'ABCD'.replace(p.reference!, '')[0]!;
      return { text: letter, confidence: { score: right ? -0.1 : -2, kind: 'mean-logprob' } };
    };
    const result = await state.measureModel({ id: 'phi-3.5-mini', cost: 0, local: true, answer });
    expect(result.confidenceKind).toBe('mean-logprob');
    expect(Object.keys(result.confidences)).toHaveLength(result.total);
    const [summary] = state.summary().escalation;
    expect(summary).toMatchObject({ localModelId: 'phi-3.5-mini', rule: { confidenceKind: 'mean-logprob', prompts: result.total } });
    expect(summary!.rule!.name).not.toBe('uniroute');
    const reloaded = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: set, store });
    expect(reloaded.summary().escalation).toEqual(state.summary().escalation);
  });
});

describe('the pre-generation router', () => {
  /**
   * 240 prompts in 4 topics, each topic word said ten times so k-means (K = 4) clusters by
   * topic; a prompt's easiness shows only in how many of its five marker words are "plain"
   * rather than "tricky". The models' scores follow that easiness, so UniRoute's clusters
   * cannot see it and the universal-difficulty router can.
   */
  const topics = ['algebra', 'biology', 'history', 'law'];
  const models = [
    { id: 'local', cost: 0, local: true },
    { id: 'mini', cost: 0.001 },
    { id: 'large', cost: 0.01 },
  ];
  const text = (topic: string, plain: number, i: number): string => `${`${topic} `.repeat(10)}${'plain '.repeat(plain)}${'tricky '.repeat(5 - plain)}item${i}`;
  const synthetic: ValidationSet = validateValidationSet({
    name: 'synthetic-difficulty',
    source: 'generated in this test',
    licence: 'none needed',
    models,
    prompts: Array.from({ length: 240 }, (_, i) => {
      const plain = (i * 7) % 6;
      return {
        id: `s${i}`,
        prompt: text(topics[i % 4]!, plain, i),
        scores: { local: plain >= 4 ? 1 : 0, mini: plain >= 2 ? 1 : 0, large: plain >= 1 ? 1 : 0 },
      };
    }),
  });

  it('is chosen per pool by cross-validation and predicts the errors the decision and λ calibration use', async () => {
    const store = freshStore();
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: synthetic, k: 4, store });
    const [summary] = state.summary().preRouting;
    expect(summary).toMatchObject({ localModelId: 'local', router: 'irt-difficulty', folds: 6 });
    expect(summary!.cvAreas!['irt-difficulty']).toBeGreaterThan(summary!.cvAreas!['uniroute-kmeans']);

    const easyPrompt = await embed(text('law', 5, 999));
    // One plain marker: only 'large' gets it right.
    const hardPrompt = await embed(text('law', 1, 998));
    const easy = state.decideTimed(easyPrompt, 20);
    const hard = state.decideTimed(hardPrompt, 20);
    for (const [d, x] of [
      [easy, easyPrompt],
      [hard, hardPrompt],
    ] as const) {
      expect(d.preRouter).toBe('irt-difficulty');
      // UniRoute's ψ, the escalation rule's feature, comes with it.
      expect(state.byModelId(d.clusterErrors)).toEqual(state.predictErrors(x));
      expect(d.ranking.map((r) => r.predictedError)).toEqual(d.ranking.map((r) => d.predictedErrors[state.models.findIndex((m) => m.id === r.id)]));
    }
    // One topic, so UniRoute predicts the same for both; the difficulty router tells them apart.
    expect(Array.from(easy.clusterErrors)).toEqual(Array.from(hard.clusterErrors));
    expect(easy.predictedErrors[0]!).toBeLessThan(0.3);
    expect(hard.predictedErrors[0]!).toBeGreaterThan(0.7);
    expect(state.decideTimed(easyPrompt, 200).modelId).toBe('local');
    // Same cluster, same λ, different decisions: only the difficulty tells these two apart.
    expect(easy.modelId).toBe('mini');
    expect(hard.modelId).toBe('large');

    // A cloud-share target is met from the difficulty router's out-of-fold predictions.
    const half = state.calibrateLambda({ kind: 'cloudShare', share: 0.5 });
    expect(half.feasible).toBe(true);
    expect(half.achieved).toBeLessThanOrEqual(0.5);
    expect(half.achieved).toBeGreaterThan(0.3);

    // A returning page reads the easiness from the cache and decides the same.
    const again = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: synthetic, k: 4, store });
    expect(again.counters.cacheHits).toBe(1);
    expect(again.summary().preRouting).toEqual(state.summary().preRouting);
    const repeat = again.decideTimed(hardPrompt, 20);
    expect(Array.from(repeat.predictedErrors)).toEqual(Array.from(hard.predictedErrors));
    expect(again.calibrateLambda({ kind: 'cloudShare', share: 0.5 }).lambda).toBe(half.lambda);
  });

  it('fits a model that joins later on the stored easiness, and chooses again for pools with it', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: synthetic, k: 4 });
    // 'mid' is right from three plain markers on: between 'local' and 'mini'.
    const scores = Object.fromEntries(synthetic.prompts.map((p) => [p.id, (p.prompt.match(/plain/g)?.length ?? 0) >= 3 ? 1 : 0]));
    await state.addModel({ id: 'mid', cost: 0.0005, scores });
    const pool = ['local', 'mid', 'large'];
    const decision = state.decideTimed(await embed(text('biology', 3, 997)), 0, pool);
    expect(decision.preRouter).toBe('irt-difficulty');
    const byId = state.byModelId(decision.predictedErrors);
    expect(byId.mid!).toBeLessThan(byId.local!);
    expect(byId.mid!).toBeGreaterThan(byId.mini!);
    expect(state.summary().preRouting[0]!.router).toBe('irt-difficulty');
  });

  it('stays UniRoute, saying why, when the set is too small to choose', async () => {
    const state = await UniRouteState.prepare({ embedder: createFakeEmbedder(), validationSet: tiny });
    expect(state.summary().preRouting).toEqual([
      { localModelId: 'llama3.2-1b', router: 'uniroute-kmeans', note: expect.stringMatching(/fewer than 40 validation prompts/) },
    ]);
    const d = state.decideTimed(await embed('x'), 0);
    expect(d.preRouter).toBe('uniroute-kmeans');
    expect(d.predictedErrors).toBe(d.clusterErrors);
  });
});
