/**
 * What `npm start` serves, as a function the browser tests start too: the built demo page
 * (dist-site/, which works on its own from any static host: in-page replay cloud, static lab
 * sets, precomputed profile cache), the package build (dist/), and two extras a server can add:
 *   /api/llm/v1                        a replay cloud behind a same-origin path, the way a site
 *                                      would proxy a real provider (Settings → Endpoint)
 *   GET /lab/sets.json                 the full sets of ../shared/data for the routing lab
 *   GET /lab/set.json?id=…&limit=400   one set (a seeded sample of at most `limit` prompts)
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadLabCatalog } from './lab-sets';
import { startReplayCloud } from '../dev/replay-cloud';
import { listSets, loadSet } from '../dev/data';
import { loadReplaySets, replaySetOf, type ReplaySet } from '../dev/replay-data';
import { startStaticServer, type StaticServer } from '../dev/static-server';

const root = resolve(import.meta.dirname, '..');

export interface DemoServerOptions {
  readonly port?: number;
  /** A data folder in the ../shared/data layout; when missing, the committed sample is used. */
  readonly data?: string;
  /** Extra response headers (a test adds a Content-Security-Policy). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface DemoServer {
  readonly url: string;
  /** Where the replay answers come from. */
  readonly replayData: string;
  close(): Promise<void>;
}

export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  if (!existsSync(resolve(root, 'dist-site/index.html'))) {
    throw new Error('dist-site/ is missing: run `npm run build` first (npm start does this for you).');
  }
  const sample = resolve(root, 'test/fixtures/replay-sample.jsonl');
  const full = options.data !== undefined && existsSync(options.data) ? options.data : undefined;
  const replayData = full ?? sample;
  // Each set is read once: the lab shows every full set; the replay cloud answers for those
  // with recorded responses (or for the committed sample when there is no data folder).
  const sampleSets = await loadReplaySets(sample);
  const fullSets = full ? await Promise.all((await listSets(full)).map((name) => loadSet(full, name))) : undefined;
  const sets = fullSets ? fullSets.map(replaySetOf).filter((s): s is ReplaySet => s !== undefined) : sampleSets;
  if (sets.length === 0) throw new Error(`${replayData} holds no set with recorded responses`);
  // The page ships its own lab sets as static files; the server adds the full sets when it has them.
  const catalog = await loadLabCatalog(fullSets ? { full: fullSets } : {});
  const cloud = await startReplayCloud({ sets, port: 0 });
  let site: StaticServer;
  try {
    site = await startStaticServer({
      port: options.port ?? 0,
      mounts: [
        { prefix: '/dist/', dir: resolve(root, 'dist') },
        { prefix: '/', dir: resolve(root, 'dist-site') },
      ],
      proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
      jsonRoutes: {
        '/lab/sets.json': () => ({ sets: catalog.entries }),
        '/lab/set.json': (url) => catalog.get(url.searchParams.get('id') ?? '', Number(url.searchParams.get('limit') ?? 400)),
      },
      ...(options.headers ? { headers: options.headers } : {}),
    });
  } catch (error) {
    await cloud.close();
    throw error;
  }
  return {
    url: site.url,
    replayData,
    close: async () => {
      await Promise.all([site.close(), cloud.close()]);
    },
  };
}
