/**
 * A small typed key-value store over IndexedDB (idb-keyval). The store is passed in, never a
 * hidden global, so tests and apps can keep their data apart.
 */
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import { EdgeRouteError } from '../errors';

export interface KvStore {
  readonly dbName: string;
  readonly storeName: string;
  readonly use: UseStore;
}

/** Opens (lazily) the object store `storeName` in database `dbName`. */
export function openKvStore(dbName = 'edgeroute', storeName = 'cache'): KvStore {
  if (typeof indexedDB === 'undefined') {
    throw new EdgeRouteError('storage-unavailable', 'IndexedDB is not available in this context; edgeroute keeps its state in memory only.');
  }
  return { dbName, storeName, use: createStore(dbName, storeName) };
}

export async function kvGet<T>(store: KvStore, key: string): Promise<T | undefined> {
  return wrap(store, 'read', key, () => get<T>(key, store.use));
}

export async function kvSet(store: KvStore, key: string, value: unknown): Promise<void> {
  return wrap(store, 'write', key, () => set(key, value, store.use));
}

export async function kvDelete(store: KvStore, key: string): Promise<void> {
  return wrap(store, 'delete', key, () => del(key, store.use));
}

export async function kvKeys(store: KvStore): Promise<string[]> {
  return wrap(store, 'list', '*', async () => (await keys(store.use)).map(String));
}

async function wrap<T>(store: KvStore, op: string, key: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    const name = (cause as { name?: string } | null)?.name ?? '';
    const code = name === 'QuotaExceededError' ? 'storage-quota' : 'storage-failed';
    const hint = code === 'storage-quota'
      ? 'The browser refused to store more data (quota exceeded); free space or clear the site data.'
      : 'IndexedDB refused the operation; another tab may hold an old version open, or storage is disabled.';
    throw new EdgeRouteError(code, `IndexedDB ${op} of "${key}" in ${store.dbName}/${store.storeName} failed: ${hint}`, { cause });
  }
}
