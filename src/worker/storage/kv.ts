/**
 * A small typed key-value store over IndexedDB (idb-keyval's get/set/del/keys). The store is
 * passed in, never a hidden global, so tests and apps can keep their data apart.
 *
 * The connection is edgeroute's own rather than idb-keyval's createStore, because IndexedDB is
 * shared with other tabs and other code, and idb-keyval's connection never lets go:
 * - on `versionchange` (another tab upgrading, or deleteDatabase) it closes, so it never blocks
 *   them, and reopens on the next use (a deleted database is created again, empty);
 * - a database that exists without our object store (another store of the same database name
 *   created it first) is upgraded to add it;
 * - an open that does not finish within `timeoutMs` (blocked by another tab holding an older
 *   version open, or queued behind a blocked delete) fails with 'storage-failed' instead of
 *   waiting for ever; callers keep their state in memory. The open itself goes on, and a
 *   connection that arrives late is used by later calls.
 */
import { del, get, keys, set, type UseStore } from 'idb-keyval';
import { EdgeRouteError } from '../../common/errors';

export interface KvStore {
  readonly dbName: string;
  readonly storeName: string;
  readonly use: UseStore;
}

export interface KvStoreOptions {
  /** How long one operation waits for the database to open, ms (default DEFAULT_OPEN_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

/** Opening takes milliseconds normally; seconds only when something else holds the database. */
export const DEFAULT_OPEN_TIMEOUT_MS = 3_000;

/** Opens (lazily) the object store `storeName` in database `dbName`. */
export function openKvStore(dbName = 'edgeroute', storeName = 'cache', options: KvStoreOptions = {}): KvStore {
  if (typeof indexedDB === 'undefined') {
    throw new EdgeRouteError('storage-unavailable', 'IndexedDB is not available in this context; edgeroute keeps its state in memory only.');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new EdgeRouteError('invalid-config', `timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  return { dbName, storeName, use: resilientStore(dbName, storeName, timeoutMs) };
}

/** Why an open did not finish in time; turned into 'storage-failed' by wrap(). */
class OpenTimeout extends Error {
  override readonly name = 'OpenTimeoutError';
}

function isNamed(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | null)?.name === name;
}

/** One open request; resolves with the connection, which then has our store. */
function openRequest(dbName: string, storeName: string, version: number | undefined, onBlocked: () => void): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    const request = version === undefined ? indexedDB.open(dbName) : indexedDB.open(dbName, version);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(storeName)) db.createObjectStore(storeName);
    };
    request.onblocked = onBlocked;
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error(`opening ${dbName} failed`));
  });
}

/** Opens `dbName` with `storeName` in it, upgrading the database when the store is missing. */
async function openWithStore(dbName: string, storeName: string, onBlocked: () => void): Promise<IDBDatabase> {
  for (let attempt = 0; ; attempt++) {
    const db = await openRequest(dbName, storeName, undefined, onBlocked);
    if (db.objectStoreNames.contains(storeName)) return db;
    // The database was made without our store: one version up adds it.
    const next = db.version + 1;
    db.close();
    try {
      return await openRequest(dbName, storeName, next, onBlocked);
    } catch (error) {
      // Another tab upgraded first (VersionError): look again, once.
      if (attempt === 0 && isNamed(error, 'VersionError')) continue;
      throw error;
    }
  }
}

function resilientStore(dbName: string, storeName: string, timeoutMs: number): UseStore {
  let connection: Promise<IDBDatabase> | undefined;
  let blocked = false;

  const connect = (): Promise<IDBDatabase> => {
    if (connection) return connection;
    blocked = false;
    const pending: Promise<IDBDatabase> = openWithStore(dbName, storeName, () => {
      blocked = true;
    }).then((db) => {
      const forget = (): void => {
        if (connection === pending) connection = undefined;
      };
      // Let another tab upgrade or delete the database; we reopen on the next use.
      db.onversionchange = () => {
        db.close();
        forget();
      };
      // Closed by the browser (site data cleared, storage failure).
      db.onclose = forget;
      return db;
    });
    pending.catch(() => {
      if (connection === pending) connection = undefined;
    });
    connection = pending;
    return pending;
  };

  const connected = (): Promise<IDBDatabase> =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new OpenTimeout(
            blocked
              ? `opening ${dbName} was blocked for ${timeoutMs} ms by another connection holding an older version open`
              : `opening ${dbName} did not finish within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      connect().then(
        (db) => {
          clearTimeout(timer);
          resolve(db);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });

  return async <T>(mode: IDBTransactionMode, callback: (store: IDBObjectStore) => T | PromiseLike<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const db = await connected();
      let store: IDBObjectStore;
      try {
        store = db.transaction(storeName, mode).objectStore(storeName);
      } catch (error) {
        // The connection closed between open and use (a versionchange, a deleted database): once more.
        if (attempt === 0 && isNamed(error, 'InvalidStateError')) {
          if (connection && (await connection.catch(() => undefined)) === db) connection = undefined;
          continue;
        }
        throw error;
      }
      return callback(store);
    }
  };
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
    const hint =
      code === 'storage-quota'
        ? 'The browser refused to store more data (quota exceeded); free space or clear the site data.'
        : cause instanceof OpenTimeout
          ? `${cause.message}; close other tabs of this site to let it open.`
          : `IndexedDB refused the operation (${name || 'error'}: ${(cause as Error)?.message ?? String(cause)}); storage may be disabled or full.`;
    throw new EdgeRouteError(code, `IndexedDB ${op} of "${key}" in ${store.dbName}/${store.storeName} failed: ${hint}`, { cause });
  }
}
