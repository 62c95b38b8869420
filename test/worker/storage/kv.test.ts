/**
 * The kv store against IndexedDB as other tabs use it (fake-indexeddb implements versionchange
 * and blocked): it never blocks another connection's upgrade or delete, recovers from a deleted
 * database, adds its store to a database made without it, and gives up on a blocked open
 * within its timeout instead of hanging.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { kvGet, kvKeys, kvSet, openKvStore } from '../../../src/worker/storage/kv';

let dbCount = 0;
const freshName = (): string => `kv-test-${dbCount++}`;

function open(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    request.onupgradeneeded = () => upgrade?.(request.result);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function deleteDb(name: string): Promise<'deleted' | 'blocked-then-deleted'> {
  return new Promise((resolve, reject) => {
    let blocked = false;
    const request = indexedDB.deleteDatabase(name);
    request.onblocked = () => {
      blocked = true;
    };
    request.onsuccess = () => resolve(blocked ? 'blocked-then-deleted' : 'deleted');
    request.onerror = () => reject(request.error);
  });
}

describe('openKvStore', () => {
  it('stores and reads back across stores of one database, adding its store to a database made without it', async () => {
    const name = freshName();
    const cache = openKvStore(name, 'cache');
    await kvSet(cache, 'a', 1);
    // A second store in the same database: idb-keyval's createStore would never create it.
    const profiles = openKvStore(name, 'profiles');
    await kvSet(profiles, 'p', { x: new Float32Array([1, 2]) });
    expect(await kvGet(cache, 'a')).toBe(1);
    expect(Array.from((await kvGet<{ x: Float32Array }>(profiles, 'p'))!.x)).toEqual([1, 2]);
    expect(await kvKeys(profiles)).toEqual(['p']);
  });

  it('lets another connection upgrade the database, then reopens', async () => {
    const name = freshName();
    const store = openKvStore(name, 'cache');
    await kvSet(store, 'k', 'v');
    const before = await open(name);
    const version = before.version;
    before.close();
    // Another tab upgrades; our open connection must not block it.
    const other = await open(name, version + 1, (db) => db.createObjectStore('theirs'));
    expect(other.version).toBe(version + 1);
    other.close();
    expect(await kvGet(store, 'k')).toBe('v');
  });

  it('does not block deleteDatabase and keeps working afterwards (the data is gone, not the store)', async () => {
    const name = freshName();
    const store = openKvStore(name, 'cache');
    await kvSet(store, 'k', 'v');
    expect(await deleteDb(name)).toMatch(/deleted/);
    expect(await kvGet(store, 'k')).toBeUndefined();
    await kvSet(store, 'k', 'again');
    expect(await kvGet(store, 'k')).toBe('again');
  });

  it('fails a blocked upgrade with storage-failed within its timeout, and works once the other connection closes', async () => {
    const name = freshName();
    // Another tab made the database without our store and holds it open, ignoring versionchange.
    const squatter = await open(name, 1, (db) => db.createObjectStore('other'));
    squatter.onversionchange = () => undefined;
    const store = openKvStore(name, 'cache', { timeoutMs: 200 });
    const started = Date.now();
    const failure = await kvSet(store, 'k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(failure).toMatchObject({ name: 'EdgeRouteError', code: 'storage-failed' });
    expect((failure as Error).message).toMatch(/blocked .* by another connection/);
    squatter.close();
    // The upgrade that was waiting goes through; the next call uses it.
    await expect
      .poll(
        () =>
          kvSet(store, 'k', 'v').then(
            () => 'ok',
            (e: Error) => e.message,
          ),
        { timeout: 2_000 },
      )
      .toBe('ok');
    expect(await kvGet(store, 'k')).toBe('v');
  });

  it('reports a refused put as storage-quota', async () => {
    const name = freshName();
    const store = openKvStore(name, 'cache');
    await kvSet(store, 'k', 'v');
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function quotaExceeded(): IDBRequest<IDBValidKey> {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    try {
      await expect(kvSet(store, 'k2', 'v2')).rejects.toMatchObject({ name: 'EdgeRouteError', code: 'storage-quota' });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(await kvGet(store, 'k')).toBe('v');
    await kvSet(store, 'k2', 'v2');
    expect(await kvGet(store, 'k2')).toBe('v2');
  });

  it('rejects a bad timeout', () => {
    expect(() => openKvStore(freshName(), 'cache', { timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
