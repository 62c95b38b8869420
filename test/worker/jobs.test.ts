import { describe, expect, it } from 'vitest';
import { errorCode } from '../../src/common/errors';
import { JobRegistry } from '../../src/worker/jobs';

/** A job that only ends when its signal fires. */
const hang = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('engine noticed late')), { once: true }));

describe('JobRegistry', () => {
  it('returns what the work returns and forgets the job', async () => {
    const jobs = new JobRegistry();
    await expect(jobs.run('a', async () => 42)).resolves.toBe(42);
    expect(jobs.size).toBe(0);
    // The id is free again.
    await expect(jobs.run('a', async () => 'again')).resolves.toBe('again');
  });

  it('a cancel that arrives before its job starts stops that job as it starts, once', async () => {
    const jobs = new JobRegistry();
    jobs.cancel('early');
    let ran = false;
    const error = await jobs
      .run('early', async (signal) => {
        ran = !signal.aborted;
        return hang(signal);
      })
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe('aborted');
    expect(ran).toBe(false);
    // Remembered once only: the id runs normally afterwards.
    await expect(jobs.run('early', async () => 'next')).resolves.toBe('next');
  });

  it('cancel(id) rejects that job with aborted at once, and leaves the others running', async () => {
    const jobs = new JobRegistry();
    const a = jobs.run('a', hang);
    let bSettled = false;
    const b = jobs.run('b', hang).finally(() => {
      bSettled = true;
    });
    b.catch(() => undefined);
    jobs.cancel('a');
    const error = await a.catch((e: unknown) => e);
    expect(errorCode(error)).toBe('aborted');
    expect((error as Error).message).toContain('"a"');
    await Promise.resolve();
    expect(bSettled).toBe(false);
    expect(jobs.size).toBe(1);
    jobs.cancel('unknown'); // no such job: nothing happens
    jobs.cancel('b');
    expect(errorCode(await b.catch((e: unknown) => e))).toBe('aborted');
    expect(jobs.size).toBe(0);
  });

  it('refuses a second job under a running id', async () => {
    const jobs = new JobRegistry();
    const a = jobs.run('a', hang);
    a.catch(() => undefined);
    expect(errorCode(await jobs.run('a', async () => 1).catch((e: unknown) => e))).toBe('invalid-input');
    jobs.cancel('a');
  });

  it('abortAll stops named and unnamed jobs with the given reason', async () => {
    const jobs = new JobRegistry();
    const reason = new Error('gpu gone');
    const named = jobs.run('n', hang);
    const unnamed = jobs.run(undefined, hang);
    jobs.abortAll(reason);
    await expect(named).rejects.toBe(reason);
    await expect(unnamed).rejects.toBe(reason);
    expect(jobs.size).toBe(0);
  });
});
