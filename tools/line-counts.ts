/**
 * Lines of TypeScript per top-level folder, for the working tree and for git revisions, so a
 * restructuring can show where code moved (before/after side by side).
 *
 *   npx tsx tools/line-counts.ts                   the working tree (tracked and untracked, not ignored)
 *   npx tsx tools/line-counts.ts e7962a7 HEAD      each revision, then the change from the first
 *   npx tsx tools/line-counts.ts e7962a7 worktree  a revision against the working tree
 *
 * Folders: the four parts of src/ (core, common, page, worker) and the top-level folders; any
 * other file is counted under its own src/<folder>, `src/*.ts` or top-level folder, so an old
 * layout (src/router, src/lab…) still adds up. Counts are all lines, blank and comment included.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

const FOLDERS = ['src/core', 'src/common', 'src/page', 'src/worker', 'research', 'demo', 'dev', 'bench', 'tools', 'test', 'e2e', 'workers'];
const WORKTREE = 'worktree';

interface Count {
  files: number;
  lines: number;
}

function git(args: readonly string[], maxBuffer = 64 * 1024 * 1024): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer });
}

/** The folder a path is counted under. */
function folderOf(path: string): string {
  const listed = FOLDERS.find((f) => path.startsWith(`${f}/`));
  if (listed) return listed;
  const parts = path.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : 'src/*.ts';
  return parts.length > 1 ? parts[0]! : '(root)';
}

const isTypeScript = (path: string) => /\.(m|c)?tsx?$/.test(path);

function lineCount(text: string): number {
  if (text.length === 0) return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** path → text of every TypeScript file at a revision (one `git cat-file --batch` for all blobs). */
function filesAt(revision: string): Map<string, string> {
  const out = new Map<string, string>();
  if (revision === WORKTREE) {
    const paths = git(['ls-files', '--cached', '--others', '--exclude-standard', '-z']).split('\0').filter(isTypeScript);
    for (const path of paths) {
      try {
        out.set(path, readFileSync(resolve(root, path), 'utf8'));
      } catch {
        // Listed by the index but deleted in the working tree: not there.
      }
    }
    return out;
  }
  const entries = git(['ls-tree', '-r', '-z', revision])
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [meta, path] = line.split('\t') as [string, string];
      const [, type, id] = meta.split(' ') as [string, string, string];
      return { type, id, path };
    })
    .filter((e) => e.type === 'blob' && isTypeScript(e.path));
  const batch = execFileSync('git', ['cat-file', '--batch'], { cwd: root, input: `${entries.map((e) => e.id).join('\n')}\n`, maxBuffer: 256 * 1024 * 1024 });
  let offset = 0;
  for (const entry of entries) {
    const headerEnd = batch.indexOf(0x0a, offset);
    const size = Number(batch.subarray(offset, headerEnd).toString('utf8').split(' ')[2]);
    out.set(entry.path, batch.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8'));
    offset = headerEnd + 1 + size + 1;
  }
  return out;
}

function countsAt(revision: string): Map<string, Count> {
  const counts = new Map<string, Count>();
  for (const [path, text] of filesAt(revision)) {
    const c = counts.get(folderOf(path)) ?? { files: 0, lines: 0 };
    c.files++;
    c.lines += lineCount(text);
    counts.set(folderOf(path), c);
  }
  return counts;
}

function label(revision: string): string {
  if (revision === WORKTREE) return 'working tree';
  return `${revision} (${git(['rev-parse', '--short', revision]).trim()})`;
}

function main(argv: readonly string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: npx tsx tools/line-counts.ts [REVISION|worktree]...   (default: the working tree)');
    return;
  }
  const revisions = argv.length > 0 ? argv : [WORKTREE];
  const tables = revisions.map(countsAt);
  const seen = new Set(tables.flatMap((t) => [...t.keys()]));
  const rows = [...FOLDERS.filter((f) => seen.has(f)), ...[...seen].filter((f) => !FOLDERS.includes(f)).sort()];
  const withDelta = revisions.length > 1;
  const header = ['folder', ...revisions.map((r) => `${label(r)} lines (files)`), ...(withDelta ? [`${revisions.at(-1)} − ${revisions[0]}`] : [])];
  const cell = (c: Count | undefined) => (c ? `${c.lines} (${c.files})` : '—');
  const total = (t: Map<string, Count>) => [...t.values()].reduce((a, c) => ({ files: a.files + c.files, lines: a.lines + c.lines }), { files: 0, lines: 0 });
  const delta = (before: Count | undefined, after: Count | undefined) => {
    const d = (after?.lines ?? 0) - (before?.lines ?? 0);
    return d > 0 ? `+${d}` : String(d);
  };
  const body = rows.map((f) => [f, ...tables.map((t) => cell(t.get(f))), ...(withDelta ? [delta(tables[0]!.get(f), tables.at(-1)!.get(f))] : [])]);
  body.push(['total', ...tables.map((t) => cell(total(t))), ...(withDelta ? [delta(total(tables[0]!), total(tables.at(-1)!))] : [])]);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const row of body) console.log(`| ${row.join(' | ')} |`);
}

main(process.argv.slice(2));
