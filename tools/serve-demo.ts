/**
 * `npm start`: serves the built demo page on 127.0.0.1 (see tools/demo-server.ts), with a
 * server-side replay cloud at /api/llm/v1 and, when ../shared/data is present, its full sets for
 * the routing lab. PORT picks the port (default 5173); DATA the data folder.
 */
import { resolve } from 'node:path';
import { startDemoServer } from './demo-server';

const root = resolve(import.meta.dirname, '..');
try {
  const demo = await startDemoServer({ port: Number(process.env.PORT ?? 5173), data: resolve(root, process.env.DATA ?? '../shared/data') });
  console.log(
    `edgeroute demo: ${demo.url}/  (the page's own in-page replay cloud by default; a server-side replay of ${demo.replayData} at ${demo.url}/api/llm/v1 to try Settings → Endpoint; Ctrl+C to stop)`,
  );
  const stop = (): void => void demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
