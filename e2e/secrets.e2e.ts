/**
 * Secrets and the shipped code.
 * - An API key given to the router is nowhere the page or worker can leave it: not in any
 *   IndexedDB database or store, not in localStorage / sessionStorage / cookies / Cache Storage,
 *   not in any console message of the page or the worker, not in an error, and it is sent only
 *   to the cloud model's own baseURL.
 * - The built bundle (every .js / .mjs under dist/ and dist-site/, chunks included) contains no
 *   eval( or Function constructor outside the one known third-party use listed below; the strict-
 *   CSP test (csp.e2e.ts) is what proves that one is never reached.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Page } from '@playwright/test';
import type { RouterConfig } from '../src/index';
import { expect, shortestRecordedPrompts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompts = shortestRecordedPrompts.slice(0, 12);

test.describe('an API key given to the router is in no storage, no console output, no error, and goes only to its baseURL', () => {
  // One page uses the key (answers, a stream, a failing cloud, a refused config); then everything
  // it can reach is searched once, and each test checks one place the key must not be.
  const KEY = `sk-edgeroute-e2e-${randomBytes(12).toString('hex')}`;
  const consoleLines: { worker: boolean; text: string }[] = [];
  const pageErrors: string[] = [];
  const sent: { url: string; authorization?: string }[] = [];
  let run: Awaited<ReturnType<typeof useKey>>;
  let dump: Awaited<ReturnType<typeof searchStorage>>;

  test.beforeAll(async ({ browser, site }) => {
    test.setTimeout(60_000);
    const page = await browser.newPage();
    page.on('console', (m) => consoleLines.push({ worker: m.worker() !== null, text: m.text() }));
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}\n${e.stack ?? ''}`));
    page.on('request', (r) => {
      const authorization = r.headers()['authorization'];
      sent.push({ url: r.url(), ...(authorization ? { authorization } : {}) });
    });
    try {
      await page.goto(`${site.url}/iife.html`);
      run = await useKey(page, KEY);
      // The worker's console is captured too (so "no key in the console" covers it).
      const worker = page.workers().find((w) => w.url().includes('edgeroute.worker.js'))!;
      await worker.evaluate(() => console.log('edgeroute-worker-console-probe'));
      dump = await searchStorage(page, KEY);
    } finally {
      await page.close();
    }
    console.log(
      `storage searched: ${JSON.stringify(dump.idb)}, web storage ${JSON.stringify(dump.webStorage)}, ${dump.cached.length} Cache Storage entries; `
        + `${consoleLines.length} console lines (${consoleLines.filter((l) => l.worker).length} from the worker); ${sent.length} requests, `
        + `${sent.filter((s) => s.authorization).length} with Authorization; answers from ${[...new Set(run.models)].join(', ')}; failing cloud → ${run.errorCode}`,
    );
  });

  test('the searches look at real data: the profile is stored, both consoles are heard, the router answered, streamed and failed as set up', () => {
    expect(dump.idb).toContainEqual({ db: 'edgeroute', store: 'profiles', records: 1 });
    expect(consoleLines.some((l) => l.worker && l.text === 'edgeroute-worker-console-probe')).toBe(true);
    expect(consoleLines.some((l) => /proxy/i.test(l.text))).toBe(true); // the one warning a key in a page earns
    expect(run.models).toHaveLength(12);
    expect(run.streamed).not.toBe('');
    expect(run.errorCode).toBe('cloud-http');
    expect(run.badKey).toMatch(/plain http .* the API key would travel unencrypted/);
  });

  test('the key is in no IndexedDB store, web storage, cookie or Cache Storage entry', () => {
    expect(dump.found).toEqual([]);
  });

  test('the key is in no console line of the page or the worker, and in no page error', () => {
    expect(consoleLines.filter((l) => l.text.includes(KEY))).toEqual([]);
    expect(pageErrors.filter((e) => e.includes(KEY))).toEqual([]);
  });

  test('the key is in no error the failing cloud surfaces, no config error and no serialised router', () => {
    for (const text of [...run.errorTexts, run.badKey ?? '', run.routerJson]) expect(text).not.toContain(KEY);
  });

  test("the key is sent as a bearer token to the cloud model's baseURL and to nothing else, never in a URL", () => {
    const withKey = sent.filter((s) => s.authorization?.includes(KEY));
    expect(withKey.length).toBeGreaterThan(0);
    for (const s of withKey) expect(new URL(s.url).pathname).toBe('/api/llm/v1/chat/completions');
    for (const s of sent) expect(s.url).not.toContain(KEY);
    expect(sent.filter((s) => s.authorization && !s.authorization.includes(KEY))).toEqual([]);
  });
});

/** Uses the key in `page`: hybrid answers and a stream, a failing cloud, a config refused for plain http. */
function useKey(page: Page, key: string) {
  return page.evaluate(
    async ({ key, prompts }) => {
      const base: Pick<RouterConfig, 'embedder' | 'local' | 'profile'> = {
        embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
        local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device: 'wasm', profileId: 'llama3.2-1b' },
        profile: '/fixtures/tiny-validation.json',
      };
      const router = await window.EdgeRoute.createRouter({
        ...base,
        mode: 'hybrid',
        cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', apiKey: key, usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
      });
      const models: string[] = [];
      for (const content of prompts)
        models.push((await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 2 })).edgeroute.model);
      let streamed = '';
      for await (const chunk of await router.chat.completions.create({ messages: [{ role: 'user', content: prompts[0]! }], max_tokens: 2, stream: true }))
        streamed += chunk.choices[0]?.delta?.content ?? '';
      // A cloud that fails (HTTP 500, one retry, then the error): the key must not be in what surfaces.
      const failing = await window.EdgeRoute.createRouter({
        ...base,
        mode: 'cloud-only',
        cloud: [
          {
            id: 'gpt-4o-mini',
            model: 'gpt-4o-mini',
            baseURL: '/api/llm/v1',
            apiKey: key,
            usdPerMTokIn: 0.15,
            usdPerMTokOut: 0.6,
            maxRetries: 1,
            headers: { 'x-replay-fault': '500; retry-after=0' },
          },
        ],
      });
      const error = await failing.chat.completions.create({ messages: [{ role: 'user', content: prompts[1]! }] }).then(
        () => null,
        (e: unknown) => e,
      );
      const errorTexts = error
        ? [String(error), (error as Error).message, (error as Error).stack ?? '', JSON.stringify(error), String((error as { cause?: unknown }).cause ?? '')]
        : [];
      failing.close();
      // A router with a mistyped key: the config error must not echo it.
      const badKey = await window.EdgeRoute.createRouter({
        ...base,
        cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: 'http://api.example.com/v1', apiKey: key, usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
      }).then(
        () => null,
        (e: Error) => e.message,
      );
      return { models, streamed, errorCode: (error as { code?: string } | null)?.code, errorTexts, badKey, routerJson: JSON.stringify(router) };
    },
    { key, prompts },
  );
}

/** Everything the origin stores, dumped and searched (strings, keys, and the bytes of binary values). */
function searchStorage(page: Page, key: string) {
  return page.evaluate(async (key) => {
    const found: string[] = [];
    const latin1 = new TextDecoder('latin1');
    const seen = new Set<unknown>();
    const search = (value: unknown, where: string): void => {
      if (typeof value === 'string') {
        if (value.includes(key)) found.push(where);
        return;
      }
      if (value === null || typeof value !== 'object' || seen.has(value)) return;
      seen.add(value);
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        if (latin1.decode(bytes).includes(key)) found.push(`${where} (bytes)`);
        return;
      }
      if (value instanceof Blob) return;
      const entries = value instanceof Map ? [...value.entries()] : value instanceof Set ? [...value].map((v, i) => [i, v]) : Object.entries(value);
      for (const [k, v] of entries) {
        search(k, `${where} key`);
        search(v, `${where}.${String(k)}`);
      }
    };
    const idb: { db: string; store: string; records: number }[] = [];
    for (const info of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((ok, fail) => {
        const r = indexedDB.open(info.name!);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
      for (const name of Array.from(db.objectStoreNames)) {
        const store = db.transaction(name, 'readonly').objectStore(name);
        const [keys, values] = await Promise.all(
          [store.getAllKeys(), store.getAll()].map(
            (r) =>
              new Promise<unknown[]>((ok, fail) => {
                r.onsuccess = () => ok(r.result as unknown[]);
                r.onerror = () => fail(r.error);
              }),
          ),
        );
        search(keys, `indexedDB ${info.name}/${name} keys`);
        search(values, `indexedDB ${info.name}/${name} values`);
        idb.push({ db: info.name!, store: name, records: keys!.length });
      }
      db.close();
    }
    const webStorage: Record<string, number> = {};
    for (const [label, storage] of [
      ['localStorage', localStorage],
      ['sessionStorage', sessionStorage],
    ] as const) {
      webStorage[label] = storage.length;
      for (let i = 0; i < storage.length; i++) {
        const k = storage.key(i)!;
        search(k, `${label} key`);
        search(storage.getItem(k), `${label}[${k}]`);
      }
    }
    search(document.cookie, 'document.cookie');
    const cached: string[] = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        cached.push(request.url);
        search(request.url, `Cache ${name} url`);
        search([...request.headers.entries()], `Cache ${name} request headers`);
        const response = await cache.match(request);
        if (response) {
          search([...response.headers.entries()], `Cache ${name} response headers`);
          search(new Uint8Array(await response.arrayBuffer()), `Cache ${name} ${request.url}`);
        }
      }
    }
    return { found, idb, webStorage, cached };
  }, key);
}

/**
 * eval( and the Function constructor in the shipped JavaScript. Known third-party uses, each
 * with where it comes from; anything else fails the test.
 */
const KNOWN_DYNAMIC_CODE: { file: RegExp; what: string; count: number; why: string }[] = [
  {
    file: /(^|\/)ort\/ort-wasm-simd-threaded\.asyncify\.mjs$/,
    what: 'new Function',
    count: 1,
    why:
      "ONNX Runtime Web's Emscripten glue: embind's _emval_create_invoker builds a JS method caller when C++ calls a JS "
      + 'method through emscripten::val. Loaded by the worker for both execution providers; csp.e2e.ts runs the WASM and WebGPU '
      + "providers under script-src 'self' 'wasm-unsafe-eval' with no violation, so it is not reached there.",
  },
];

const DYNAMIC_CODE = [
  { what: 'eval(', re: /(?<![\w$.])eval\s*\(/g },
  { what: 'new Function', re: /\bnew\s+Function\s*\(/g },
  { what: 'Function(', re: /(?<![\w$.]|new\s)Function\s*\(/g },
];

function scripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return scripts(path);
    return /\.(m|c)?js$/.test(name) ? [path] : [];
  });
}

test('the built bundle has no eval( or Function constructor besides the known third-party one', () => {
  const dirs = ['dist', 'dist-site'].map((d) => resolve(root, d)).filter(existsSync);
  expect(dirs.length, 'run npm run build first').toBeGreaterThan(0);
  const files = dirs.flatMap(scripts);
  const findings: { file: string; what: string; count: number; context: string }[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const { what, re } of DYNAMIC_CODE) {
      const hits = [...text.matchAll(re)];
      if (hits.length === 0) continue;
      const at = hits[0]!.index!;
      findings.push({ file: relative(root, file), what, count: hits.length, context: text.slice(Math.max(0, at - 60), at + 60).replace(/\s+/g, ' ') });
    }
  }
  console.log(`${files.length} script files scanned in ${dirs.map((d) => relative(root, d)).join(', ')}; dynamic code: ${JSON.stringify(findings, null, 1)}`);
  const unknown = findings.filter((f) => !KNOWN_DYNAMIC_CODE.some((k) => k.file.test(f.file) && k.what === f.what && k.count === f.count));
  expect(unknown).toEqual([]);
  // Each known use is still there as described (a change upstream should be looked at again).
  for (const known of KNOWN_DYNAMIC_CODE) expect(findings.some((f) => known.file.test(f.file) && f.what === known.what)).toBe(true);
});
