/**
 * `npm start`: serves the built demo page (dist-site/) and the package build (dist/) on
 * 127.0.0.1. PORT picks the port (default 5173).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startStaticServer } from './static-server';

const root = resolve(import.meta.dirname, '..');
if (!existsSync(resolve(root, 'dist-site/index.html'))) {
  console.error('dist-site/ is missing: run `npm run build` first (npm start does this for you).');
  process.exit(1);
}
const site = await startStaticServer({
  port: Number(process.env.PORT ?? 5173),
  mounts: [
    { prefix: '/dist/', dir: resolve(root, 'dist') },
    { prefix: '/', dir: resolve(root, 'dist-site') },
  ],
});
console.log(`edgeroute demo: ${site.url}/  (Ctrl+C to stop)`);
const stop = (): void => void site.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
