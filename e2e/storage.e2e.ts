import { test, expect } from './fixtures';

test('idb-keyval storage keeps a value across a page reload', async ({ page, site }) => {
  await page.goto(`${site.url}/iife.html`);
  const written = {
    centroids: [
      [0.6, 0.8],
      [1, 0],
    ],
    featureVector: new Float32Array([0.25, 0.5]),
  };
  await page.evaluate(
    async (value) => {
      const store = window.EdgeRoute.openKvStore('edgeroute-e2e', 'kv');
      await window.EdgeRoute.kvSet(store, 'profile', { ...value, featureVector: new Float32Array(value.featureVector) });
    },
    { ...written, featureVector: Array.from(written.featureVector) },
  );

  await page.reload();
  const read = await page.evaluate(async () => {
    const store = window.EdgeRoute.openKvStore('edgeroute-e2e', 'kv');
    const value = await window.EdgeRoute.kvGet<{ centroids: number[][]; featureVector: Float32Array }>(store, 'profile');
    const keys = await window.EdgeRoute.kvKeys(store);
    return (
      value && { centroids: value.centroids, featureVector: Array.from(value.featureVector), isFloat32: value.featureVector instanceof Float32Array, keys }
    );
  });
  expect(read).toEqual({ centroids: written.centroids, featureVector: [0.25, 0.5], isFloat32: true, keys: ['profile'] });
});
