/**
 * `npm start`: serves the built demo page (dist-site/) and the package build (dist/) on
 * 127.0.0.1, with the replay cloud behind the same-origin path /api/llm/ (the recorded answers
 * of the data sets' models: the full sets of ../shared/data when present, else the committed
 * sample). PORT picks the port (default 5173); DATA the data folder.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startReplayCloud } from './replay-cloud';
import { startStaticServer } from './static-server';

const root = resolve(import.meta.dirname, '..');
if (!existsSync(resolve(root, 'dist-site/index.html'))) {
  console.error('dist-site/ is missing: run `npm run build` first (npm start does this for you).');
  process.exit(1);
}
const fullData = resolve(root, process.env.DATA ?? '../shared/data');
const data = existsSync(fullData) ? fullData : resolve(root, 'test/fixtures/replay-sample.jsonl');
const cloud = await startReplayCloud({ data, port: 0 });
const site = await startStaticServer({
  port: Number(process.env.PORT ?? 5173),
  mounts: [
    { prefix: '/dist/', dir: resolve(root, 'dist') },
    { prefix: '/', dir: resolve(root, 'dist-site') },
  ],
  proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
});
console.log(`edgeroute demo: ${site.url}/  (replay cloud of ${data} at ${site.url}/api/llm/v1; Ctrl+C to stop)`);
const stop = (): void => void Promise.all([site.close(), cloud.close()]).then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
