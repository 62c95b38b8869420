/**
 * `npm start`: serves the built demo page with the replay cloud and the routing lab's data on
 * 127.0.0.1 (see tools/demo-server.ts): the full sets of ../shared/data when present, else the
 * committed sample. PORT picks the port (default 5173); DATA the data folder.
 */
import { resolve } from 'node:path';
import { startDemoServer } from './demo-server';

const root = resolve(import.meta.dirname, '..');
try {
  const demo = await startDemoServer({ port: Number(process.env.PORT ?? 5173), data: resolve(root, process.env.DATA ?? '../shared/data') });
  console.log(`edgeroute demo: ${demo.url}/  (replay cloud of ${demo.replayData} at ${demo.url}/api/llm/v1; Ctrl+C to stop)`);
  const stop = (): void => void demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
