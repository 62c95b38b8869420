/**
 * What the browser tests of the published package share: `npm pack` this checkout, and install
 * the tarball into a scratch app the way a user's `npm install` would.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const root = resolve(import.meta.dirname, '..');
export const viteVersion = (JSON.parse(readFileSync(resolve(root, 'node_modules/vite/package.json'), 'utf8')) as { version: string }).version;

export interface PackageJson {
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  overrides?: Record<string, string>;
}

/**
 * The child npm must see the scratch app's own configuration: under `npm test` the parent npm
 * exports this repo's (its folder as npm_config_local_prefix, say) as npm_config_* variables,
 * which would hide a recipe that only works here. Kept: the cache `npm ci` filled, which the
 * install reads first, and where the machine's user and global npmrc files are.
 */
const KEPT_NPM_VARIABLES = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_cafile']);
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || KEPT_NPM_VARIABLES.has(key.toLowerCase())));
}

/**
 * The versions this checkout's `npm ci` installed for `names` and everything they depend on.
 * Pinning the scratch app to them (package.json `overrides`) installs what was tested here,
 * from npm's cache where it has them.
 */
export function installedVersions(names: readonly string[]): Record<string, string> {
  const versions: Record<string, string> = {};
  const queue = names.map((name) => ({ name, from: root }));
  for (let next = queue.pop(); next; next = queue.pop()) {
    let manifest = '';
    // Node's lookup: the nearest node_modules/<name> from the dependent's folder up to ours.
    for (let dir = next.from; !manifest; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', next.name, 'package.json');
      if (existsSync(candidate)) manifest = candidate;
      else if (dir === root) break;
    }
    if (!manifest) continue; // an optional dependency for another platform
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    if (versions[next.name] === pkg.version) continue;
    if (versions[next.name]) throw new Error(`${next.name} is installed at ${versions[next.name]} and ${pkg.version}; pin one of them for the scratch app`);
    versions[next.name] = pkg.version;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push({ name: dep, from: dirname(manifest) });
  }
  return versions;
}

/** `npm pack` of this checkout into `dir`: the tarball's path and the files it holds. */
export async function packInto(dir: string): Promise<{ tarball: string; files: string[] }> {
  for (const file of ['dist/index.js', 'dist/edgeroute.worker.js', 'dist/types/index.d.ts', 'dist/ort', 'dist/tfjs', 'dist/profiles']) {
    if (!existsSync(resolve(root, file))) throw new Error(`${file} is missing: run \`npm run build\` before the package tests.`);
  }
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, env: cleanEnv(), maxBuffer: 16 << 20 });
  const [entry] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(dir, entry!.filename), files: entry!.files.map((f) => f.path) };
}

/**
 * Installs the tarball, Vite and `extra` packages into the app in `app` (its package.json must exist), pinned to
 * this checkout's versions. --prefer-offline: npm's cache where it holds a package (`npm ci`
 * filled it with the tarballs), the registry for the rest; `npm ci` caches tarballs but not
 * every packument, so on a new machine an --offline install fails with ENOTCACHED.
 */
export async function installTarball(app: string, tarball: string, extra: readonly string[] = []): Promise<void> {
  const appPackage = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as PackageJson;
  const published = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as PackageJson;
  appPackage.overrides = installedVersions(['vite', ...Object.keys(published.dependencies ?? {})]);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(appPackage, null, 2)}\n`);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `vite@${viteVersion}`, ...extra], {
    cwd: app,
    env: cleanEnv(),
    maxBuffer: 16 << 20,
  }).catch((error: unknown) => {
    throw new Error(
      `npm install of the tarball into the scratch app failed (it needs the npm registry for what npm's cache lacks).\n${String((error as { stderr?: string }).stderr ?? error)}`,
    );
  });
}
