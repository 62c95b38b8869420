/**
 * The npm tarball is what users get: pack it, unpack it as node_modules/edgeroute, and check
 * that every `exports` target is inside, that Node resolves the ESM entry through the exports
 * map, and that TypeScript finds the declarations.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
let scratch = '';
let installed = '';
let packedFiles: string[] = [];

interface PackEntry {
  filename: string;
  files: { path: string }[];
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` before the package test.');
  scratch = mkdtempSync(join(tmpdir(), 'edgeroute-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [entry] = JSON.parse(out) as PackEntry[];
  packedFiles = entry.files.map((f) => f.path);
  installed = join(scratch, 'node_modules', 'edgeroute');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, entry.filename), '-C', installed, '--strip-components=1']);
  // The package's own runtime imports, taken from this checkout.
  for (const dep of ['comlink', 'idb-keyval']) symlinkSync(join(root, 'node_modules', dep), join(scratch, 'node_modules', dep));
}, 120_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function exportTargets(): string[] {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
  return Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
}

describe('npm pack', () => {
  it('ships every exports target and no source maps or tests', () => {
    const targets = exportTargets().map((t) => t.replace(/^\.\//, ''));
    for (const t of [
      'dist/index.js',
      'dist/types/index.d.ts',
      'dist/advanced.js',
      'dist/types/advanced.d.ts',
      'dist/edgeroute.iife.js',
      'dist/edgeroute.worker.js',
    ])
      expect(targets).toContain(t);
    for (const t of targets) expect(packedFiles, `${t} is exported but not packed`).toContain(t);
    expect(packedFiles.filter((f) => f.endsWith('.map') || f.startsWith('test/') || f.startsWith('src/'))).toEqual([]);
  });

  it("leaves no asset-like new URL(…, import.meta.url) in the worker for the app's bundler to resolve", () => {
    // The app's Vite or webpack re-bundles the worker and would look for such a file beside it.
    const scripts = packedFiles.filter((f) => f === 'dist/edgeroute.worker.js' || f.startsWith('dist/chunks/'));
    expect(scripts.length).toBeGreaterThan(1);
    const assetUrl = /new URL\(\s*(["'`])[^"'`]+\1\s*,\s*import\.meta\.url\s*\)/;
    expect(scripts.filter((f) => assetUrl.test(readFileSync(join(installed, f), 'utf8')))).toEqual([]);
  });

  it('ships no script that points at a source map left out of the package', () => {
    // Bundlers' dev servers and browsers follow these comments and report every missing map.
    const dangling = packedFiles
      .filter((f) => f.endsWith('.js'))
      .flatMap((f) => {
        const target = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(installed, f), 'utf8'))?.[1];
        if (!target || target.startsWith('data:')) return [];
        const mapPath = join(f, '..', target);
        return packedFiles.includes(mapPath) ? [] : [`${f} → ${mapPath}`];
      });
    expect(dangling).toEqual([]);
  });

  it('resolves the ESM entry and the worker asset through the exports map in Node', () => {
    const script = `
      const m = await import('edgeroute');
      const advanced = await import('edgeroute/advanced');
      const worker = import.meta.resolve('edgeroute/edgeroute.worker.js');
      const iife = import.meta.resolve('edgeroute/edgeroute.iife.js');
      console.log(JSON.stringify({ names: Object.keys(m).sort(), advanced: Object.keys(advanced).sort(), worker, iife }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
    const result = JSON.parse(out) as { names: string[]; advanced: string[]; worker: string; iife: string };
    // The stable entry is createRouter and what goes with it; the worker, cloud client and
    // IndexedDB helpers are 'edgeroute/advanced'.
    expect(result.names).toEqual(expect.arrayContaining(['EdgeRouteError', 'createRouter', 'validateValidationSet', 'withCalibratedModel']));
    expect(result.names).not.toEqual(expect.arrayContaining(['startEdgeWorker']));
    expect(result.names).not.toEqual(expect.arrayContaining(['openKvStore']));
    expect(result.advanced).toEqual(expect.arrayContaining(['startEdgeWorker', 'CloudClient', 'EdgeRouter', 'openKvStore']));
    expect(result.worker).toMatch(/node_modules\/edgeroute\/dist\/edgeroute\.worker\.js$/);
    expect(result.iife).toMatch(/node_modules\/edgeroute\/dist\/edgeroute\.iife\.js$/);
    // The entry's code (index.js and the chunk it shares with advanced.js, beside it in dist/)
    // names its worker in the form bundlers detect and bundle as a worker asset.
    const entryCode = packedFiles
      .filter((f) => /^dist\/[^/]+\.js$/.test(f) && !/edgeroute\.(worker|iife)\.js$/.test(f))
      .map((f) => readFileSync(join(installed, f), 'utf8'));
    expect(entryCode.some((code) => /new Worker\(new URL\(["']\.\/edgeroute\.worker\.js["'], ?import\.meta\.url\)/.test(code))).toBe(true);
  });

  it('gives TypeScript consumers the declarations', () => {
    writeFileSync(
      join(scratch, 'consumer.ts'),
      `
      import { EdgeRouteError, type GpuProbe } from 'edgeroute';
      import { startEdgeWorker } from 'edgeroute/advanced';
      export async function probe(): Promise<GpuProbe> { return (await startEdgeWorker()).api.probeGpu(); }
      export const code: EdgeRouteError['code'] = 'invalid-config';
    `,
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'ESNext',
          moduleResolution: 'Bundler',
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          types: [],
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    expect(() => execFileSync(process.execPath, [tsc, '-p', scratch], { cwd: scratch, encoding: 'utf8' })).not.toThrow();
  });
});
