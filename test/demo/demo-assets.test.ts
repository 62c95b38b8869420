import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeAnswer, ExampleBook, exampleTitle, parseExamples } from '../../demo/examples';
import { decodeProfileEntry, encodeProfileEntry, seedProfileCache, USE_LITE_EMBEDDER_ID, type SeedMeta } from '../../demo/profile-seed';
import { createReplayFetch, REPLAY_NOT_RECORDED } from '../../demo/replay-fetch';
import { validateValidationSet, validationSetHash } from '../../src/common/validation-set';
import { USE_LITE_ID } from '../../src/worker/embedders/use-embedder';
import { openKvStore } from '../../src/worker/storage/kv';
import { checkProfileEntry, readProfileEntry } from '../../src/worker/storage/profile-cache';

const root = resolve(import.meta.dirname, '../..');
const read = (p: string): string => readFileSync(resolve(root, p), 'utf8');
const examples = parseExamples(JSON.parse(read('public/demo/examples.json')));
const profile = validateValidationSet(JSON.parse(read('public/profiles/default-validation.json')));
const meta = JSON.parse(read('public/demo/profile-cache/use-lite.json')) as SeedMeta;
const binBuffer = readFileSync(resolve(root, 'public/demo/profile-cache/use-lite.bin'));
const bin = (): ArrayBuffer => binBuffer.buffer.slice(binBuffer.byteOffset, binBuffer.byteOffset + binBuffer.byteLength) as ArrayBuffer;

describe('recorded prompts (public/demo/examples.json)', () => {
  it('hold real Llama-3.2-1B answers and confidences, held out from the routing profile, from both sets', () => {
    expect(examples.items.length).toBeGreaterThanOrEqual(40);
    expect(new Set(examples.items.map((e) => e.set))).toEqual(new Set(['cascade-mmlu', 'cascade-medmcqa']));
    const inProfile = new Set(profile.prompts.map((p) => p.prompt));
    for (const e of examples.items) {
      expect(inProfile.has(e.prompt), e.id).toBe(false);
      expect(e.responses['llama3.2-1b']).toMatch(/^\s*\(?[A-D]\b/);
      expect(e.localConfidence).toBeLessThanOrEqual(0);
      expect([0, 1]).toContain(e.scores['gpt-4o']);
    }
    // Not a set where every answer is right: the ✓/✗ has something to show.
    const llamaRight = examples.items.filter((e) => e.scores['llama3.2-1b'] === 1).length;
    expect(llamaRight).toBeGreaterThan(0);
    expect(llamaRight).toBeLessThan(examples.items.length);
  });

  it('are found by their text whatever the whitespace, and described for people', () => {
    const book = new ExampleBook(examples);
    const e = examples.items[0]!;
    expect(book.find(`  ${e.prompt.replace(/\n/g, '\r\n')} `)).toBe(e);
    expect(book.find('What is the capital of France?')).toBeUndefined();
    const prompt = 'Question: Which gas?\n\nChoices:\nA: Oxygen\nB: Nitrogen\nC: Argon\nD: Helium\n\nAnswer: ';
    expect(describeAnswer(prompt, 'B')).toBe('B: Nitrogen');
    expect(describeAnswer(prompt, 'a long answer')).toBe('a long answer');
    expect(exampleTitle(prompt)).toBe('Which gas?');
  });
});

describe('in-page replay cloud', () => {
  const book = new ExampleBook(examples);
  const replay = createReplayFetch({ book: () => book, wordDelayMs: 0 }, async () => new Response('fallback'));
  const e = examples.items[0]!;
  const post = (body: object): Promise<Response> => replay('http://h/sub/replay/v1/chat/completions', { method: 'POST', body: JSON.stringify(body) });

  it("answers a recorded prompt with that model's recorded answer, as JSON and as SSE", async () => {
    const json = (await (await post({ model: 'gpt-4o', messages: [{ role: 'user', content: e.prompt }] })).json()) as {
      choices: { message: { content: string } }[];
    };
    expect(json.choices[0]!.message.content).toBe(e.responses['gpt-4o']);
    const sse = await (await post({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: e.prompt }] })).text();
    const deltas = sse
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] });
    expect(deltas.map((d) => d.choices[0]?.delta.content ?? '').join('')).toBe(e.responses['gpt-4o-mini']);
    expect(sse.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('streams a longer answer a word at a time and stops when aborted', async () => {
    const long = { ...examples, items: [{ ...e, prompt: 'long one', responses: { ...e.responses, 'gpt-4o': 'The answer is B because it is.' } }] };
    const longBook = new ExampleBook(long);
    const stream = createReplayFetch({ book: () => longBook, wordDelayMs: 1 });
    const body = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'long one' }] };
    const sse = await (await stream('/replay/v1/chat/completions', { method: 'POST', body: JSON.stringify(body) })).text();
    const contents = sse
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content)
      .filter(Boolean);
    expect(contents).toEqual(['The ', 'answer ', 'is ', 'B ', 'because ', 'it ', 'is.']);
    const abort = new AbortController();
    const slow = createReplayFetch({ book: () => longBook, wordDelayMs: 50 });
    const response = await slow('/replay/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal: abort.signal });
    abort.abort();
    await expect(response.text()).rejects.toBeDefined();
  });

  it('says plainly that a typed question has no recorded answer, and leaves other URLs alone', async () => {
    const response = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Why is the sky blue?' }] });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(REPLAY_NOT_RECORDED);
    expect(body.error.message).toMatch(/only replays recorded answers.*your own OpenAI-compatible endpoint/);
    expect(await (await replay('http://h/api/llm/v1/chat/completions', { method: 'POST', body: '{}' })).text()).toBe('fallback');
  });
});

describe('precomputed profile cache (public/demo/profile-cache)', () => {
  it('is for the embedder id the worker gives USE lite and for the shipped profile', async () => {
    expect(USE_LITE_EMBEDDER_ID).toBe(USE_LITE_ID);
    expect(meta.entry.embedderId).toBe(USE_LITE_ID);
    expect(meta.entry.validationHash).toBe(await validationSetHash(profile));
  });

  it("decodes to an entry the worker's own check accepts, with the validation embeddings", async () => {
    const entry = decodeProfileEntry(meta, bin());
    const expect_ = {
      embedderId: USE_LITE_ID,
      validationHash: meta.entry.validationHash,
      dimension: 512,
      k: meta.entry.k,
      seed: meta.entry.seed,
      promptCount: profile.prompts.length,
      models: profile.models,
    };
    expect(checkProfileEntry(entry, expect_).status).toBe('hit');
    expect(entry.validationEmbeddings).toHaveLength(400 * 512);
    // Encoding again gives the same bytes (nothing lost on the way).
    expect(Buffer.from(encodeProfileEntry(entry, meta.key).bytes)).toEqual(binBuffer);
  });

  it("is written into IndexedDB once under the worker's key, and a damaged or foreign seed is skipped", async () => {
    const store = openKvStore('edgeroute-seed-test', 'profiles');
    const expectation = { embedderId: USE_LITE_ID, validationHash: meta.entry.validationHash, promptCount: profile.prompts.length, models: profile.models };
    let fetched = 0;
    const bytes = async (): Promise<ArrayBuffer> => {
      fetched++;
      return bin();
    };
    expect((await seedProfileCache(store, meta, bytes, expectation)).status).toBe('seeded');
    expect((await seedProfileCache(store, meta, bytes, expectation)).status).toBe('present');
    expect(fetched).toBe(1);
    const full = { ...expectation, dimension: 512, k: meta.entry.k, seed: meta.entry.seed };
    expect((await readProfileEntry(store, meta.key, full)).status).toBe('hit');
    const other = await seedProfileCache(openKvStore('edgeroute-seed-test-2', 'profiles'), meta, bytes, { ...expectation, embedderId: 'other' });
    expect(other).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/router uses other/) });
    const cut = await seedProfileCache(openKvStore('edgeroute-seed-test-3', 'profiles'), meta, async () => bin().slice(0, 1000), expectation);
    expect(cut).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/runs past the end/) });
  });
});
