/**
 * The README's snippets run as printed, against the packed tarball: the install block's
 * `npx edgeroute copy-assets` line, the Quick start (as the app's main.ts), the Vite config
 * (the app's vite.config.js, whose proxy forwards /api/llm to LLM_API_URL), the script tag, the
 * calibrated-model, worker and cloud-client examples (each a page of its own). Each is read from
 * README.md by its `<!-- snippet: name -->` marker, never copied here. Only `npm install
 * edgeroute` is replaced, by an install of the tarball: the registry's edgeroute is not this
 * checkout. The worker example's tiny models are the repository's (public/models, served at
 * /models/ as the README says), and the calibration file is made here from the profile.
 *
 * The cloud is a small OpenAI-compatible server on loopback that answers every prompt "391"
 * and checks the key the proxy adds; the Quick start's web-llm model cannot be downloaded here
 * (no model hub), so its report must say what answered instead.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { expect, test } from './fixtures';
import { cleanEnv, installTarball, packInto, root, run } from './scratch-app';

/** The code block after `<!-- snippet: name -->` in README.md. */
function snippet(name: string): string {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- snippet: ${name} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match) throw new Error(`README.md has no snippet "${name}"`);
  return match[1]!;
}

const API_KEY = 'sk-test-readme';
const openaiVersion = (JSON.parse(readFileSync(resolve(root, 'node_modules/openai/package.json'), 'utf8')) as { version: string }).version;
const ANSWER = '391';

/** An OpenAI-compatible chat endpoint answering ANSWER, plain or streamed; records what it saw. */
function startFakeProvider(): Promise<{ server: Server; url: string; seen: { path: string; auth: string }[] }> {
  const seen: { path: string; auth: string }[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization ?? '' });
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no ${req.url}`, type: 'invalid_request_error' } }));
        return;
      }
      const request = JSON.parse(body) as { model: string; stream?: boolean };
      const base = { id: 'chatcmpl-readme', created: Math.floor(Date.now() / 1000), model: request.model };
      if (request.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: ANSWER }, finish_reason: null }] })}\n\n`,
        );
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 12, completion_tokens: 1, total_tokens: 13 },
        }),
      );
    });
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      done({ server, url: `http://127.0.0.1:${port}`, seen });
    }),
  );
}

test.describe
  .serial('the README snippets, as printed, against the npm tarball', () => {
    let scratch = '';
    let app = '';
    let provider: Awaited<ReturnType<typeof startFakeProvider>>;
    let vite: ViteDevServer;

    test.beforeAll(async () => {
      test.setTimeout(180_000);
      scratch = mkdtempSync(join(tmpdir(), 'edgeroute-readme-'));
      app = join(scratch, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'readme-app', private: true, type: 'module' }, null, 2)}\n`);
      const { tarball } = await packInto(scratch);

      // The install snippet, its `npm install edgeroute` line served by the tarball.
      const install = snippet('install').trim().split('\n');
      expect(install[0]).toBe('npm install edgeroute');
      // With the SDK the OpenAI example's app would have; one install, as the pins allow.
      await installTarball(app, tarball, [`openai@${openaiVersion}`]);
      for (const line of install.slice(1)) await run('bash', ['-c', line], { cwd: app, env: cleanEnv() });

      writeFileSync(join(app, 'main.ts'), snippet('quick-start'));
      // The examples compile against the shipped declarations, as a TypeScript app's would.
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'ESNext',
            moduleResolution: 'Bundler',
            lib: ['ES2022', 'DOM'],
            types: [],
            strict: true,
            skipLibCheck: false,
            noEmit: true,
          },
          include: ['*.ts'],
        }),
      );
      writeFileSync(join(app, 'vite.config.js'), snippet('vite-config'));
      writeFileSync(
        join(app, 'index.html'),
        '<!doctype html><html><head><meta charset="utf-8"><title>quick start</title></head><body><script type="module" src="/main.ts"></script></body></html>\n',
      );
      writeFileSync(
        join(app, 'tag.html'),
        `<!doctype html><html><head><meta charset="utf-8"><title>script tag</title></head><body>\n${snippet('script-tag')}</body></html>\n`,
      );
      for (const name of ['calibrated-model', 'worker', 'cloud-client', 'openai-sdk']) {
        writeFileSync(join(app, `${name}.ts`), snippet(name));
        writeFileSync(
          join(app, `${name}.html`),
          `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title></head><body><script type="module" src="/${name}.ts"></script></body></html>\n`,
        );
      }
      // The calibrated-model example reads /calibration-my-model.json: what `npm run calibrate`
      // writes, here with a model that scores as gpt-4o does on the shipped profile.
      const profile = JSON.parse(readFileSync(resolve(root, 'public/profiles/default-validation.json'), 'utf8')) as {
        prompts: { id: string; scores: Record<string, number> }[];
      };
      const scores = Object.fromEntries(profile.prompts.filter((p) => p.scores['gpt-4o'] !== undefined).map((p) => [p.id, p.scores['gpt-4o']!]));
      writeFileSync(join(app, 'public/calibration-my-model.json'), JSON.stringify({ id: 'my-model', cost: 0.0004, scores }));
      symlinkSync(resolve(root, 'public/models'), join(app, 'public/models'));
      // Not a README snippet: what a user sees when the copied files are not where runtimeBaseUrl says.
      writeFileSync(
        join(app, 'missing.ts'),
        `import { createRouter, EdgeRouteError } from 'edgeroute';
const cloud = [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }];
const outcome = async (config: Parameters<typeof createRouter>[0]) => {
  try {
    await createRouter(config);
    return 'no error';
  } catch (error) {
    return error instanceof EdgeRouteError ? \`\${error.code}: \${error.message}\` : \`untyped: \${String(error)}\`;
  }
};
const profile = await outcome({ runtimeBaseUrl: '/nowhere/', cloud });
const embedder = await outcome({ runtimeBaseUrl: '/nowhere/', profile: '/edgeroute/profiles/default-validation.json', cloud });
console.log(profile, embedder);
`,
      );
      writeFileSync(
        join(app, 'missing.html'),
        '<!doctype html><html><head><meta charset="utf-8"><title>missing</title></head><body><script type="module" src="/missing.ts"></script></body></html>\n',
      );
      await run(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app });

      provider = await startFakeProvider();
      // What the Vite config reads: the provider to proxy to and the key the proxy adds.
      process.env.LLM_API_URL = provider.url;
      process.env.OPENAI_API_KEY = API_KEY;
      vite = await createServer({ root: app, configFile: join(app, 'vite.config.js'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0 } });
      await vite.listen();
    });

    test.afterAll(async () => {
      await vite?.close();
      provider?.server.close();
      delete process.env.LLM_API_URL;
      delete process.env.OPENAI_API_KEY;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    test('copy-assets put the runtime, the default profile and USE lite where the site serves them', () => {
      for (const f of [
        'edgeroute.iife.js',
        'edgeroute.worker.js',
        'ort/ort-wasm-simd-threaded.asyncify.wasm',
        'tfjs/tfjs-backend-wasm.wasm',
        'profiles/default-validation.json',
        'models/use-lite/model.json',
        'models/use-lite/vocab.json',
        'models/use-lite/group1-shard1of7',
      ]) {
        expect(() => readFileSync(join(app, 'public/edgeroute', f)), f).not.toThrow();
      }
    });

    test('the Quick start answers through the Vite proxy with progress logged, and says why the cloud answered', async ({ page }) => {
      test.setTimeout(180_000);
      const lines: string[] = [];
      const answered = new Promise<{ content: unknown; report: Record<string, unknown> }>((done) => {
        page.on('console', (message) => {
          lines.push(message.text());
          const args = message.args();
          if (args.length === 2)
            void Promise.all(args.map((a) => a.jsonValue())).then(([content, report]) => done({ content, report: report as Record<string, unknown> }));
        });
      });
      page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400) lines.push(`HTTP ${response.status()} ${response.url()}`);
      });
      const started = Date.now();
      await page.goto(vite.resolvedUrls!.local[0]!);
      const { content, report } = await Promise.race([
        answered,
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no answer after 150 s; console: ${JSON.stringify(lines)}`)), 150_000)),
      ]);
      console.log(`quick start: answered in ${Date.now() - started} ms; console: ${JSON.stringify(lines)}; report: ${JSON.stringify(report)}`);
      expect(content).toBe(ANSWER);
      expect(report.model).toBe('gpt-4o');
      expect(report.degraded).toBe(false);
      // Progress was reported for the embedder and the profile (the first visit embeds the validation prompts).
      expect(lines.some((l) => l.startsWith('embedder '))).toBe(true);
      expect(lines.some((l) => l.startsWith('profile '))).toBe(true);
      // The local model (web-llm, opt-in download) cannot load here: when it was the router's
      // choice, a note says the cloud answered for it.
      if (report.routedTo === 'llama3.2-1b') expect((report.notes as string[]).join(' ')).toMatch(/local model/i);
      // The proxy added the key; the page never had it.
      expect(provider.seen.filter((s) => s.path === '/v1/chat/completions').every((s) => s.auth === `Bearer ${API_KEY}`)).toBe(true);
    });

    test('the script tag alone answers in <edgeroute-chat>', async ({ page }) => {
      test.setTimeout(120_000);
      await page.goto(new URL('tag.html', vite.resolvedUrls!.local[0]!).href);
      await page.locator('edgeroute-chat textarea').fill('What is 17 × 23?');
      await page.locator('edgeroute-chat button').click();
      const answer = page.locator('edgeroute-chat li.answer');
      await expect(answer).toBeVisible({ timeout: 90_000 });
      console.log(`script tag: ${await answer.textContent()}`);
      await expect(answer).toContainText(ANSWER);
      await expect(answer.locator('small')).toContainText('gpt-4o');
    });

    /** Opens `page` and resolves with the JSON values of the first console line that has `args` arguments. */
    async function consoleLine(page: Page, path: string, args: number): Promise<unknown[]> {
      const lines: string[] = [];
      const logged = new Promise<unknown[]>((done) => {
        page.on('console', (message) => {
          lines.push(message.text());
          if (message.args().length === args) void Promise.all(message.args().map((a) => a.jsonValue())).then(done);
        });
      });
      page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
      await page.goto(new URL(path, vite.resolvedUrls!.local[0]!).href);
      return Promise.race([
        logged,
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`${path}: nothing logged in 120 s; console: ${JSON.stringify(lines)}`)), 120_000)),
      ]);
    }

    test('the calibrated-model example adds the measured model to the shipped profile and routes to it', async ({ page }) => {
      test.setTimeout(150_000);
      const [model, models] = await consoleLine(page, 'calibrated-model.html', 2);
      console.log(`calibrated model: answered by ${String(model)}`);
      expect(model).toBe('my-model');
      expect((models as { id: string }[]).map((m) => m.id)).toContain('my-model');
    });

    test('the worker example prepares the profile, routes and answers with a confidence', async ({ page }) => {
      test.setTimeout(150_000);
      const [k, chosen, confidence] = await consoleLine(page, 'worker.html', 3);
      console.log(`worker example: k ${String(k)}, chosen ${String(chosen)}, confidence ${JSON.stringify(confidence)}`);
      expect(k).toBeGreaterThan(1);
      expect(typeof chosen).toBe('string');
      expect(typeof (confidence as { score: unknown }).score).toBe('number');
    });

    test('the cloud-client example answers plainly and streams, with the cost from usage', async ({ page }) => {
      test.setTimeout(60_000);
      const [content, cost] = await consoleLine(page, 'cloud-client.html', 2);
      expect(content).toBe(ANSWER);
      expect(cost).toMatchObject({ inputTokens: 12, outputTokens: 1, estimated: false });
    });

    test('files missing under runtimeBaseUrl are typed errors that name the URL', async ({ page }) => {
      test.setTimeout(120_000);
      const [profile, embedder] = (await consoleLine(page, 'missing.html', 2)) as string[];
      console.log(`missing profile: ${profile}\nmissing embedder: ${embedder}`);
      expect(profile).toMatch(
        /^invalid-config: The routing profile at http:\/\/127\.0\.0\.1:\d+\/nowhere\/profiles\/default-validation\.json (answered HTTP 404|is not JSON)/,
      );
      expect(embedder).not.toMatch(/^untyped/);
      expect(embedder).toContain('/nowhere/models/use-lite/');
    });

    test('the OpenAI-SDK example routes the SDK call through router.fetch', async ({ page }) => {
      test.setTimeout(120_000);
      const [content, model] = await consoleLine(page, 'openai-sdk.html', 2);
      expect(content).toBe(ANSWER);
      expect(model).toBe('gpt-4o');
    });
  });
