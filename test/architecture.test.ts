/**
 * Import rules: the folders of src/ say where code runs, and this test keeps it so.
 *
 * - src/core    shipped routing math: imports src/core only, no npm package, no Node built-in.
 * - src/common  both sides: src/common and src/core.
 * - src/worker  the worker: src/worker, src/common, src/core.
 * - src/page    the main thread: src/page, src/common, types of src/core, and of src/worker only
 *               the wire contract (protocol.ts, protocol-errors.ts).
 * - The wire contract itself imports only src/common, src/core and itself, so the page does not
 *   reach worker internals through it.
 * - Nothing in src/ imports research/, demo/, dev/, bench/, tools/, e2e/, test/ or workers/
 *   (not shipped, or the worker entry), nor a Node built-in (src/ runs in browsers).
 *
 * Every .ts file's imports are read with the TypeScript parser: static imports, `export … from`,
 * dynamic `import()`, `import x = require()` and `typeof import()` types. Each violation is
 * reported with its file and line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** One import as written in a file. */
interface ImportRef {
  /** The module specifier; undefined for a dynamic import of a computed value. */
  readonly specifier: string | undefined;
  readonly line: number;
  /** Erased at compile time (`import type`, all-type named imports, `typeof import()`). */
  readonly typeOnly: boolean;
}

/** What an import points at: a repo file (repo-relative, posix) or a package. */
type Target = { kind: 'file'; path: string } | { kind: 'package'; name: string } | { kind: 'builtin'; name: string } | { kind: 'computed' };

interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly typeOnly: boolean;
  readonly rule: string;
}

/** An import the rules forbid but the tree has today, kept visible until it is fixed. */
interface KnownException {
  readonly file: string;
  readonly specifier: string;
  readonly reason: string;
}

function allTypeOnly(elements: ts.NodeArray<ts.ImportSpecifier | ts.ExportSpecifier>): boolean {
  return elements.length > 0 && elements.every((e) => e.isTypeOnly);
}

/** Every import of one source text, in source order. */
function importsOf(fileName: string, text: string): ImportRef[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const add = (node: ts.Node, specifier: string | undefined, typeOnly: boolean) => {
    out.push({ specifier, typeOnly, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      // A side-effect import (no clause) runs the module: a value import.
      const typeOnly =
        clause !== undefined
        && (clause.isTypeOnly
          || (clause.name === undefined
            && clause.namedBindings !== undefined
            && ts.isNamedImports(clause.namedBindings)
            && allTypeOnly(clause.namedBindings.elements)));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) && allTypeOnly(node.exportClause.elements));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      add(node, ts.isStringLiteral(e) ? e.text : undefined, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      add(node, arg && ts.isStringLiteralLike(arg) ? arg.text : undefined, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Resolves a specifier from `file` (repo-relative); `exists` says whether a repo-relative path is a file. */
function resolveImport(file: string, specifier: string | undefined, exists: (path: string) => boolean): Target {
  if (specifier === undefined) return { kind: 'computed' };
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const base = posix.normalize(specifier.startsWith('/') ? specifier.slice(1) : posix.join(posix.dirname(file), specifier));
    const stem = base.replace(/\.(js|mjs|ts|mts)$/, '');
    const candidates = [base, `${stem}.ts`, `${stem}.mts`, `${base}/index.ts`];
    return { kind: 'file', path: candidates.find(exists) ?? base };
  }
  if (specifier.startsWith('node:') || isBuiltin(specifier)) return { kind: 'builtin', name: specifier };
  const parts = specifier.split('/');
  return { kind: 'package', name: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
}

const within = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/** The wire contract: the only worker files the page may import. */
const WORKER_CONTRACT = ['src/worker/protocol.ts', 'src/worker/protocol-errors.ts'];

/** npm packages a layer may import (none for the pure layers). */
const ALLOWED_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  'src/core': [],
  'src/common': [],
};

const NOT_SHIPPED = ['research', 'demo', 'dev', 'bench', 'tools', 'e2e', 'test', 'workers'];

interface LayerRule {
  readonly layer: string;
  /** Folders (or files) any import may point into. */
  readonly may: readonly string[];
  /** Folders only type-only imports may point into. */
  readonly mayTypes?: readonly string[];
}

const LAYERS: readonly LayerRule[] = [
  { layer: 'src/core', may: ['src/core'] },
  { layer: 'src/common', may: ['src/common', 'src/core'] },
  { layer: 'src/worker', may: ['src/worker', 'src/common', 'src/core'] },
  { layer: 'src/page', may: ['src/page', 'src/common', ...WORKER_CONTRACT], mayTypes: ['src/core'] },
];

/** The rules broken by one import of `file`, as messages (empty when it is allowed). */
function ruleViolations(file: string, ref: ImportRef, target: Target): string[] {
  if (!within(file, 'src')) return [];
  const broken: string[] = [];
  if (target.kind === 'computed') return ['src/ imports only literal specifiers (a computed import() cannot be checked)'];
  if (target.kind === 'builtin') return [`src/ runs in browsers: no Node built-in (${target.name})`];
  if (target.kind === 'file') {
    const outside = NOT_SHIPPED.find((f) => within(target.path, f));
    if (outside) broken.push(`src/ must not import ${outside}/ (${target.path})`);
  }
  const rule = LAYERS.find((l) => within(file, l.layer));
  if (rule && target.kind === 'file' && within(target.path, 'src')) {
    const allowed = rule.may.some((f) => within(target.path, f)) || (ref.typeOnly && (rule.mayTypes ?? []).some((f) => within(target.path, f)));
    if (!allowed) {
      const typesToo = rule.mayTypes?.length ? `; types only from ${rule.mayTypes.join(', ')}` : '';
      broken.push(`${rule.layer} imports only ${rule.may.join(', ')}${typesToo} (${target.path})`);
    }
  }
  if (
    WORKER_CONTRACT.includes(file)
    && target.kind === 'file'
    && !WORKER_CONTRACT.includes(target.path)
    && !within(target.path, 'src/common')
    && !within(target.path, 'src/core')
  ) {
    broken.push(`the worker protocol imports only src/common, src/core and itself, so the page does not reach worker internals through it (${target.path})`);
  }
  const packageLayer = Object.keys(ALLOWED_PACKAGES).find((l) => within(file, l));
  if (packageLayer && target.kind === 'package' && !ALLOWED_PACKAGES[packageLayer]!.includes(target.name)) {
    broken.push(`${packageLayer} imports no npm package except ${ALLOWED_PACKAGES[packageLayer]!.join(', ') || '(none)'} (${target.name})`);
  }
  return broken;
}

/** Checks a set of files given as repo-relative path → text. */
function checkImports(files: ReadonlyMap<string, string>): Violation[] {
  const exists = (path: string) => files.has(path);
  const out: Violation[] = [];
  for (const [file, text] of files) {
    for (const ref of importsOf(file, text)) {
      for (const rule of ruleViolations(file, ref, resolveImport(file, ref.specifier, exists))) {
        out.push({ file, line: ref.line, specifier: ref.specifier ?? '<computed>', typeOnly: ref.typeOnly, rule });
      }
    }
  }
  return out;
}

const format = (v: Violation) => `${v.file}:${v.line}: ${v.typeOnly ? 'import type' : 'import'} '${v.specifier}' — ${v.rule}`;

/**
 * Violations the tree has today, all type-only (erased from the bundles), each to be fixed by
 * moving the type into the wire contract. The test fails when one is fixed and still listed, so
 * this list only shrinks.
 */
const KNOWN_EXCEPTIONS: readonly KnownException[] = [
  { file: 'src/worker/protocol.ts', specifier: './gpu/webgpu', reason: 'GpuProbe crosses the wire; its type belongs in protocol.ts.' },
  {
    file: 'src/worker/protocol.ts',
    specifier: './engines/local-engine',
    reason: 'LoadProgress and LocalEngineStatus cross the wire; their types belong in protocol.ts.',
  },
  { file: 'src/worker/protocol.ts', specifier: './profile-state', reason: 'UniRouteSummary crosses the wire; its type belongs in protocol.ts.' },
];

const SKIP_DIRS = new Set(['node_modules', 'dist', 'dist-site', '.git', '.cache', 'test-results', 'playwright-report', 'reports']);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.m?ts$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

describe('import rules', () => {
  it('finds static, type-only, export-from, dynamic, require and import-type imports with their lines', () => {
    const refs = importsOf(
      'x.ts',
      [
        "import { a } from './a';",
        "import type { B } from './b';",
        "import { type C, type D } from './c';",
        "import { type E, f } from './e';",
        "export { g } from './g';",
        "export type { H } from './h';",
        "import './side-effect';",
        "const m = () => import('./lazy');",
        "type T = typeof import('./t');",
        "import r = require('./r');",
        'const n = import(name);',
      ].join('\n'),
    );
    expect(refs).toEqual([
      { specifier: './a', line: 1, typeOnly: false },
      { specifier: './b', line: 2, typeOnly: true },
      { specifier: './c', line: 3, typeOnly: true },
      { specifier: './e', line: 4, typeOnly: false },
      { specifier: './g', line: 5, typeOnly: false },
      { specifier: './h', line: 6, typeOnly: true },
      { specifier: './side-effect', line: 7, typeOnly: false },
      { specifier: './lazy', line: 8, typeOnly: false },
      { specifier: './t', line: 9, typeOnly: true },
      { specifier: './r', line: 10, typeOnly: false },
      { specifier: undefined, line: 11, typeOnly: false },
    ]);
  });

  it('reports hand-made violations of every rule, with file and line', () => {
    const files = new Map([
      ['src/core/bad.ts', "import { x } from '../common/errors';\nimport { y } from 'comlink';\nimport { z } from 'node:fs';"],
      ['src/common/bad.ts', "export { w } from '../page/router';\nimport { v } from 'idb-keyval';"],
      ['src/worker/bad.ts', "const p = () => import('../page/router');"],
      [
        'src/page/bad.ts',
        [
          "import { kmeans } from '../core/kmeans';",
          "import type { Decision } from '../core/uniroute';",
          "import type { LoadProgress } from '../worker/engines/local-engine';",
          "import type { EdgeWorkerApi } from '../worker/protocol';",
          "import { installErrorTransfer } from '../worker/protocol-errors';",
        ].join('\n'),
      ],
      ['src/worker/protocol.ts', "import type { GpuProbe } from './gpu/webgpu';"],
      ['src/index.ts', "import { baseline } from '../research/baselines';\nimport { load } from '../dev/data';\nconst d = import(name);"],
      ['src/common/errors.ts', ''],
      ['src/core/kmeans.ts', ''],
      ['src/core/uniroute.ts', ''],
      ['src/page/router.ts', ''],
      ['src/worker/engines/local-engine.ts', ''],
      ['src/worker/gpu/webgpu.ts', ''],
      ['src/worker/protocol-errors.ts', ''],
      ['research/baselines.ts', ''],
      ['dev/data.ts', ''],
      // Outside src/ the rules do not apply.
      ['bench/ok.ts', "import { x } from '../research/baselines';\nimport { readFileSync } from 'node:fs';"],
    ]);
    const found = checkImports(files).map((v) => `${v.file}:${v.line} ${v.specifier}`);
    expect(found).toEqual([
      'src/core/bad.ts:1 ../common/errors',
      'src/core/bad.ts:2 comlink',
      'src/core/bad.ts:3 node:fs',
      'src/common/bad.ts:1 ../page/router',
      'src/common/bad.ts:2 idb-keyval',
      'src/worker/bad.ts:1 ../page/router',
      'src/page/bad.ts:1 ../core/kmeans',
      'src/page/bad.ts:3 ../worker/engines/local-engine',
      'src/worker/protocol.ts:1 ./gpu/webgpu',
      'src/index.ts:1 ../research/baselines',
      'src/index.ts:2 ../dev/data',
      'src/index.ts:3 <computed>',
    ]);
    expect(format(checkImports(files)[0]!)).toBe("src/core/bad.ts:1: import '../common/errors' — src/core imports only src/core (src/common/errors.ts)");
  });

  it('holds for every .ts file in the repository', () => {
    const files = new Map<string, string>();
    for (const path of sourceFiles(root)) files.set(relative(root, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    expect(files.size).toBeGreaterThan(100);
    const violations = checkImports(files);
    const known = (v: Violation) => KNOWN_EXCEPTIONS.some((k) => k.file === v.file && k.specifier === v.specifier && v.typeOnly);
    expect.soft(violations.filter((v) => !known(v)).map(format)).toEqual([]);
    const stale = KNOWN_EXCEPTIONS.filter((k) => !violations.some((v) => k.file === v.file && k.specifier === v.specifier));
    expect(stale.map((k) => `${k.file} '${k.specifier}' is fixed: remove it from KNOWN_EXCEPTIONS`)).toEqual([]);
  });
});
