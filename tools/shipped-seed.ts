/** Reads the demo's shipped profile cache entry (`<path>.json` + `<path>.bin`, made by make-demo-assets.ts) in Node. */
import { readFile } from 'node:fs/promises';
import { decodeProfileEntry, type SeedMeta } from '../demo/profile-seed';
import type { ProfileEntry } from '../src/worker/storage/profile-cache';

export async function readShippedSeed(cachePath: string): Promise<{ meta: SeedMeta; entry: ProfileEntry }> {
  const meta = JSON.parse(await readFile(`${cachePath}.json`, 'utf8')) as SeedMeta;
  const bin = await readFile(`${cachePath}.bin`);
  return { meta, entry: decodeProfileEntry(meta, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)) };
}
