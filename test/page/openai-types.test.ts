/**
 * Runs the TypeScript compiler on test/types/openai-sdk-types.ts alone (the project's strict
 * options), so `npx vitest run test/page` checks edgeroute's OpenAI types against the real
 * `openai` package even where the project typecheck is not run. A second file, written here
 * with a deliberate mismatch, must fail: the check can fail.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
const OPTIONS = [
  '--noEmit',
  '--strict',
  '--skipLibCheck',
  '--target',
  'ES2022',
  '--module',
  'ESNext',
  '--moduleResolution',
  'Bundler',
  '--lib',
  'ES2022,DOM,DOM.Iterable,WebWorker',
  '--types',
  'node,@webgpu/types',
  '--isolatedModules',
  '--verbatimModuleSyntax',
  '--allowImportingTsExtensions',
];

async function compile(file: string): Promise<{ ok: boolean; output: string }> {
  try {
    await promisify(execFile)(process.execPath, [tsc, ...OPTIONS, file], { cwd: root, timeout: 120_000 });
    return { ok: true, output: '' };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe("edgeroute's types against the openai package's", () => {
  it('OpenAI requests are edgeroute requests; router answers are OpenAI answers', async () => {
    const result = await compile(resolve(root, 'test/types/openai-sdk-types.ts'));
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 120_000);

  it('a mismatch fails the check', async () => {
    const dir = await mkdtemp(join(root, 'test/types/.tmp-'));
    try {
      const file = join(dir, 'mismatch.ts');
      await writeFile(
        file,
        [
          "import type OpenAI from 'openai';",
          "import type { ChatCompletion } from '../../../src/common/openai';",
          // An engine's raw completion may lack `refusal` and may end in web-llm's 'abort': not OpenAI's shape.
          'export const raw = (c: ChatCompletion): OpenAI.ChatCompletion => c;',
        ].join('\n'),
      );
      const result = await compile(file);
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/error TS2322: Type '.*src\/common\/openai.*ChatCompletion' is not assignable to type '.*openai.*ChatCompletion'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
