import { describe, expect, it } from 'vitest';
import { MemoryIdempotency } from './idempotency.js';

describe('MemoryIdempotency', () => {
  it('does the work once for concurrent requests with one key, and replays the answer', async () => {
    const store = new MemoryIdempotency(60);
    let calls = 0;
    const work = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return { status: 201, body: { n: calls } };
    };
    const [x, y] = await Promise.all([store.run('k', 'f', work), store.run('k', 'f', work)]);
    const z = await store.run('k', 'f', work);
    expect(calls).toBe(1);
    expect(x).toEqual({
      kind: 'answered',
      answer: { status: 201, body: { n: 1 } },
      replayed: false,
    });
    expect(y).toMatchObject({ kind: 'answered', replayed: true });
    expect(z).toMatchObject({ kind: 'answered', replayed: true });
    expect(await store.run('k', 'other body', work)).toEqual({ kind: 'mismatch' });
  });

  it('keeps no failure: a retry after a refusal (503) or a thrown error does the work again', async () => {
    const store = new MemoryIdempotency(60);
    let calls = 0;
    await store.run('k', 'f', async () => ({ status: 503, body: { n: ++calls } }));
    await expect(
      store.run('k', 'f', async () => Promise.reject(new Error(String(++calls)))),
    ).rejects.toThrow('2');
    const r = await store.run('k', 'f', async () => ({ status: 201, body: { n: ++calls } }));
    expect(r).toMatchObject({ answer: { status: 201, body: { n: 3 } }, replayed: false });
  });
});
