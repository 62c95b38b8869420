/** A page whose judgement chunk does not load (a deploy that lost it, a flaky network) still answers. */
import { describe, expect, it, vi } from 'vitest';
import { EdgeRouter, type RouterCloud } from '../../src/page/router';
import { fakeWorker } from './fake-worker';

vi.mock('../../src/page/local-judgement', () => {
  throw new Error('Failed to fetch dynamically imported module');
});

const cloud: RouterCloud = {
  chat: async () => {
    throw new Error('the cloud is not asked');
  },
  async *stream() {
    yield* [];
    throw new Error('the cloud is not asked');
  },
};

describe('the local-answer judgement chunk', () => {
  it('failing to load keeps the local answer, with a note saying why', async () => {
    const router = new EdgeRouter({ worker: fakeWorker('llama', 'tiny'), cloud, localModel: 'llama', cloudModels: [{ id: 'cloud-big', cost: 0.01 }] });
    const answer = await router.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.edgeroute).toMatchObject({ model: 'llama', escalated: false, escalationRule: 'threshold' });
    expect(answer.edgeroute.notes.join(' ')).toMatch(/Could not load the judgement of local answers \(.+\); the local answer is kept\./);
  });
});
