/**
 * The two tiny models the repo ships in public/models/ (made by tools/models/*.py), loaded the
 * way the worker loads models: transformers.js, local files only, fp32 ONNX on onnxruntime-node.
 *
 * - edgeroute-tiny-embed: feature-extraction with mean pooling + normalisation; its tokenizer and
 *   ONNX export agree with the PyTorch run that made it; math word problems sit closer to each
 *   other than to law questions.
 * - edgeroute-tiny-gsm8k-lm: tokenizer and logits agree with PyTorch; greedy generation through
 *   the KV cache equals greedy decoding by full recomputation; the model is more confident
 *   (higher mean token log-probability) on held-out GSM8K problems than on MMLU law questions.
 *
 * The data-set checks read ../shared/data (or $EDGEROUTE_DATA) and are skipped without it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  pipeline,
  type FeatureExtractionPipeline,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  Tensor,
  type TextGenerationPipeline,
} from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const modelsDir = join(root, 'public', 'models');
const EMBED = 'edgeroute-tiny-embed';
const LM = 'edgeroute-tiny-gsm8k-lm';
const dataDir = resolve(root, process.env.EDGEROUTE_DATA ?? '../shared/data');
const hasData = existsSync(join(dataDir, 'routellm-gsm8k', 'items.jsonl')) && existsSync(join(dataDir, 'routellm-mmlu', 'items.jsonl'));
const LAW_TASKS = new Set(['mmlu/professional_law', 'mmlu/international_law', 'mmlu/jurisprudence']);

interface Item {
  id: string;
  task: string;
  prompt: string;
}
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const readItems = (set: string): Item[] =>
  readFileSync(join(dataDir, set, 'items.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Item);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = `${modelsDir}/`;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe(`${EMBED} (transformers.js feature-extraction, offline)`, () => {
  let fe: FeatureExtractionPipeline;
  let run: {
    tokenizer_fixtures: { text: string; ids: number[] }[];
    reference_embeddings_head8: number[][];
    reference_cosines: number[][];
    config: { hidden_size: number };
  };

  beforeAll(async () => {
    run = readJson(join(modelsDir, EMBED, 'training_run.json'));
    fe = (await pipeline('feature-extraction', EMBED, { dtype: 'fp32' })) as FeatureExtractionPipeline;
  }, 60_000);

  async function embed(texts: string[]): Promise<number[][]> {
    const out = await fe(texts, { pooling: 'mean', normalize: true });
    return out.tolist() as number[][];
  }

  it('tokenizes exactly as the training script did', () => {
    for (const f of run.tokenizer_fixtures) {
      const ids = fe.tokenizer.encode(f.text);
      expect(ids).toEqual(f.ids);
    }
  });

  it('reproduces the PyTorch embeddings of the training run', async () => {
    const vecs = await embed(run.tokenizer_fixtures.map((f) => f.text));
    vecs.forEach((v, i) => {
      expect(v.length).toBe(run.config.hidden_size);
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
      run.reference_embeddings_head8[i].forEach((r, j) => expect(Math.abs(v[j] - r)).toBeLessThan(2e-4));
      vecs.forEach((w, k) => expect(Math.abs(dot(v, w) - run.reference_cosines[i][k])).toBeLessThan(2e-4));
    });
  });

  it('puts two math word problems closer than a math problem and a law question', async () => {
    const [m1, m2, law, med] = await embed([
      'Sara buys 4 boxes of pencils with 12 pencils in each box. She gives away 15 pencils. How many pencils does she have left?',
      'A farmer has 35 cows and sells 8 of them, then buys twice as many as he sold. How many cows does he have now?',
      'Under the doctrine of adverse possession, which element must the claimant prove to acquire title to the land?\nA. Permission of the owner\nB. Open and notorious use\nC. Payment of rent\nD. A written deed\nAnswer:',
      'Which nerve is most commonly injured in a fracture of the surgical neck of the humerus?\nA. Radial\nB. Axillary\nC. Ulnar\nD. Median\nAnswer:',
    ]);
    const mathMath = dot(m1, m2);
    const mathLaw = dot(m1, law);
    const mathMed = dot(m1, med);
    console.log(
      `[${EMBED}] cos(math, math)=${mathMath.toFixed(3)} cos(math, law)=${mathLaw.toFixed(3)} cos(math, medical)=${mathMed.toFixed(3)} cos(law, medical)=${dot(law, med).toFixed(3)}`,
    );
    expect(mathMath).toBeGreaterThan(mathLaw + 0.1);
    expect(mathMath).toBeGreaterThan(mathMed + 0.1);
  });

  it.skipIf(!hasData)(
    'separates held-out GSM8K problems from MMLU law questions',
    async () => {
      const held = readJson<{ sets: Record<string, string[]> }>(join(modelsDir, EMBED, 'heldout.json')).sets;
      const gsmIds = new Set(held['routellm-gsm8k']);
      const mmluIds = new Set(held['routellm-mmlu']);
      const gsm = readItems('routellm-gsm8k')
        .filter((r) => gsmIds.has(r.id))
        .slice(0, 20);
      const law = readItems('routellm-mmlu')
        .filter((r) => mmluIds.has(r.id) && LAW_TASKS.has(r.task))
        .slice(0, 20);
      expect(gsm.length).toBe(20);
      expect(law.length).toBe(20);
      const g = await embed(gsm.map((r) => r.prompt));
      const l = await embed(law.map((r) => r.prompt));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const within: number[] = [];
      const across: number[] = [];
      g.forEach((a, i) => {
        g.forEach((b, j) => {
          if (j > i) within.push(dot(a, b));
        });
        l.forEach((b) => across.push(dot(a, b)));
      });
      console.log(`[${EMBED}] held-out: mean cos gsm8k-gsm8k=${mean(within).toFixed(3)} gsm8k-law=${mean(across).toFixed(3)}`);
      expect(mean(within)).toBeGreaterThan(mean(across) + 0.2);
    },
    60_000,
  );
});

describe(`${LM} (transformers.js causal LM, offline)`, () => {
  let tok: PreTrainedTokenizer;
  let model: PreTrainedModel;
  let eos = -1;
  let run: {
    tokenizer_fixtures: { text: string; ids: number[] }[];
    reference_mean_logprob: { text: string; mean_token_logprob_after_eos: number }[];
  };

  beforeAll(async () => {
    run = readJson(join(modelsDir, LM, 'training_run.json'));
    tok = await AutoTokenizer.from_pretrained(LM);
    model = await AutoModelForCausalLM.from_pretrained(LM, { dtype: 'fp32' });
    [eos] = tok.encode('<|endoftext|>', { add_special_tokens: false });
    expect(eos).toBe((model.config as unknown as { eos_token_id: number }).eos_token_id);
  }, 60_000);

  const encode = (text: string): number[] => tok.encode(text, { add_special_tokens: false });

  /** Logits of one forward pass over `ids` (no cache): [ids.length][vocab]. */
  async function forwardLogits(ids: number[]): Promise<Float32Array[]> {
    const input_ids = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const attention_mask = new Tensor('int64', BigInt64Array.from(ids.map(() => 1n)), [1, ids.length]);
    const out = (await model({ input_ids, attention_mask })) as { logits: Tensor };
    const [, n, v] = out.logits.dims;
    const data = out.logits.data as Float32Array;
    return Array.from({ length: n }, (_, i) => data.subarray(i * v, (i + 1) * v));
  }

  function logSoftmaxAt(row: Float32Array, k: number): number {
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let s = 0;
    for (const x of row) s += Math.exp(x - max);
    return row[k] - max - Math.log(s);
  }

  /** Mean log-probability of each token of `text`, conditioned on <|endoftext|> + the tokens before it. */
  async function meanTokenLogprob(text: string): Promise<number> {
    const ids = [eos, ...encode(text)].slice(0, 512);
    const rows = await forwardLogits(ids);
    let s = 0;
    for (let i = 1; i < ids.length; i++) s += logSoftmaxAt(rows[i - 1], ids[i]);
    return s / (ids.length - 1);
  }

  const argmax = (row: Float32Array): number => row.reduce((best, x, i) => (x > row[best] ? i : best), 0);

  it('has the ONNX inputs and outputs transformers.js expects of a decoder with a KV cache', () => {
    const session = (model as unknown as { sessions: Record<string, { inputNames: string[]; outputNames: string[] }> }).sessions.model;
    const layers = [0, 1, 2, 3];
    expect(session.inputNames).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      ...layers.flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]),
    ]);
    expect(session.outputNames).toEqual(['logits', ...layers.flatMap((i) => [`present.${i}.key`, `present.${i}.value`])]);
  });

  it('tokenizes exactly as the training script did, and decodes back', () => {
    for (const f of run.tokenizer_fixtures) {
      expect(encode(f.text)).toEqual(f.ids);
      expect(tok.decode(f.ids)).toBe(f.text);
    }
  });

  it('reproduces the PyTorch log-probabilities of the training run', async () => {
    for (const r of run.reference_mean_logprob) {
      expect(Math.abs((await meanTokenLogprob(r.text)) - r.mean_token_logprob_after_eos)).toBeLessThan(1e-3);
    }
  });

  it('generates greedily through the KV cache exactly as full recomputation does', async () => {
    const prompt = 'Tom has 3 boxes with 12 apples in each box. He eats 5 apples. How many apples are left?\nAnswer:';
    const promptIds = encode(prompt);
    const inputs = tok(prompt, { add_special_tokens: false });
    const out = (await model.generate({ ...inputs, max_new_tokens: 16, do_sample: false })) as Tensor;
    const cached = (out.tolist() as bigint[][])[0].map(Number).slice(promptIds.length);
    const ids = [...promptIds];
    const full: number[] = [];
    for (let i = 0; i < cached.length; i++) {
      const rows = await forwardLogits(ids);
      const next = argmax(rows[rows.length - 1]);
      full.push(next);
      ids.push(next);
      if (next === eos) break;
    }
    console.log(`[${LM}] greedy continuation: ${JSON.stringify(tok.decode(cached))}`);
    expect(cached.length).toBeGreaterThan(0);
    expect(cached).toEqual(full);
  }, 60_000);

  it('gives a left-padded batch the same next-token logits and greedy tokens as each prompt alone', async () => {
    const prompts = [
      'A pen costs $2. How much do 7 pens cost?\nAnswer:',
      'Mia reads 12 pages a day for 5 days and then 9 more pages. How many pages did she read?\nAnswer:',
    ];
    const batch = tok(prompts, { padding: true, add_special_tokens: false });
    const mask = batch.attention_mask.tolist() as bigint[][];
    expect(mask[0][0]).toBe(0n); // the shorter prompt is padded on the left
    const out = (await model(batch)) as { logits: Tensor };
    const [, n, v] = out.logits.dims;
    const data = out.logits.data as Float32Array;
    for (let b = 0; b < prompts.length; b++) {
      const alone = await forwardLogits(encode(prompts[b]));
      const last = alone[alone.length - 1];
      const batched = data.subarray((b * n + n - 1) * v, (b * n + n) * v);
      let maxDiff = 0;
      for (let k = 0; k < v; k++) maxDiff = Math.max(maxDiff, Math.abs(last[k] - batched[k]));
      expect(maxDiff).toBeLessThan(1e-3);
    }
    const gen = (await model.generate({ ...batch, max_new_tokens: 8, do_sample: false })) as Tensor;
    const rows = gen.tolist() as bigint[][];
    for (let b = 0; b < prompts.length; b++) {
      const single = (await model.generate({ ...tok(prompts[b], { add_special_tokens: false }), max_new_tokens: 8, do_sample: false })) as Tensor;
      const alone = (single.tolist() as bigint[][])[0].slice(-8);
      expect(rows[b].slice(-8)).toEqual(alone);
    }
  }, 60_000);

  it('works through pipeline("text-generation")', async () => {
    const gen = (await pipeline('text-generation', LM, { dtype: 'fp32' })) as TextGenerationPipeline;
    const prompt = 'A baker makes 24 cookies and sells 9 of them. How many cookies are left?\nAnswer:';
    const [res] = (await gen(prompt, { max_new_tokens: 12, do_sample: false })) as { generated_text: string }[];
    expect(res.generated_text.startsWith(prompt)).toBe(true);
    expect(res.generated_text.length).toBeGreaterThan(prompt.length);
  }, 60_000);

  it.skipIf(!hasData)(
    'is more confident on held-out GSM8K problems than on MMLU law questions',
    async () => {
      const held = readJson<{ 'routellm-gsm8k': string[] }>(join(modelsDir, LM, 'heldout.json'))['routellm-gsm8k'];
      const heldSet = new Set(held);
      const gsm = readItems('routellm-gsm8k')
        .filter((r) => heldSet.has(r.id))
        .slice(0, 20);
      const law = readItems('routellm-mmlu').filter((r) => LAW_TASKS.has(r.task));
      // 20 law questions spread over the three tasks: every k-th one, in file order
      const step = Math.floor(law.length / 20);
      const lawPick = Array.from({ length: 20 }, (_, i) => law[i * step]);
      expect(gsm.length).toBe(20);
      const lpG: number[] = [];
      for (const r of gsm) lpG.push(await meanTokenLogprob(r.prompt));
      const lpL: number[] = [];
      for (const r of lawPick) lpL.push(await meanTokenLogprob(r.prompt));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const gap = mean(lpG) - mean(lpL);
      console.log(
        `[${LM}] mean token log-prob of the prompt: held-out gsm8k ${mean(lpG).toFixed(3)} (n=20), mmlu law ${mean(lpL).toFixed(3)} (n=20), gap ${gap.toFixed(3)}`,
      );
      expect(gap).toBeGreaterThan(0.5);
      // and per item: most held-out GSM8K problems score above most law questions
      const below = lpG.filter((g) => g < Math.max(...lpL)).length;
      expect(below).toBeLessThan(10);
    },
    120_000,
  );
});
