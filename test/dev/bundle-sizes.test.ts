import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { staticImportClosure } from '../../dev/bundle-sizes';

describe('staticImportClosure', () => {
  const dist = mkdtempSync(join(tmpdir(), 'edgeroute-bundle-'));
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  it('follows static imports and re-exports once each, and lists dynamic imports apart', () => {
    writeFileSync(
      join(dist, 'index.js'),
      'import{a as e}from"./shared-AbCdEf12.js";export*from"./types-AbCdEf12.js";const t=()=>import("./lazy-AbCdEf12.js");',
    );
    writeFileSync(
      join(dist, 'shared-AbCdEf12.js'),
      'import { b } from "./index.js"; import "comlink"; export const a = () => import(`./lazy-AbCdEf12.js`) ?? import("./index.js");',
    );
    writeFileSync(join(dist, 'types-AbCdEf12.js'), 'export {};');
    writeFileSync(join(dist, 'lazy-AbCdEf12.js'), 'import "./never-AbCdEf12.js";');
    const closure = staticImportClosure(dist, 'index.js');
    expect(closure.files.map((f) => f.file)).toEqual(['index.js', 'shared-AbCdEf12.js', 'types-AbCdEf12.js']);
    expect(closure.files[0]!.role).toBe('entry');
    // Only quoted specifiers are static paths; a chunk already loaded statically is not "lazy".
    expect(closure.lazy).toEqual(['lazy-AbCdEf12.js']);
    expect(closure.gzipBytes).toBe(closure.files.reduce((a, f) => a + f.gzipBytes, 0));
    expect(closure.gzipBytes).toBeGreaterThan(0);
  });
});
