import { describe, expect, it } from 'vitest';
import { CallRegistry } from '../bridge/call-registry.js';
import { EndedCalls } from '../bridge/ended-calls.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { admitCall, type Admission } from './admission.js';
import type { ServerContext } from './context.js';
import { createMetrics } from './metrics.js';

const log = createLogger({ level: 'silent' });
const SID = 'CA' + 'b'.repeat(32);

/** A server context whose LiveKit API is `livekit`: these tests are about our own failures. */
function context(livekit: Partial<ServerContext['livekit']>) {
  const ended: string[] = [];
  const registry = new CallRegistry({
    capacity: 5,
    streamStartTimeoutMs: 60_000,
    onEnded: async (call, reason) => {
      ended.push(`${call.callSid} ${reason}`);
    },
  });
  const ctx = {
    config: loadConfig({ AGENT_DISPATCH: 'true' }),
    log,
    metrics: createMetrics(),
    livekit: { createCallRoom: async () => {}, dispatchAgent: async () => {}, ...livekit },
    registry,
    endedCalls: new EndedCalls(60_000),
    state: { draining: false, startedAt: Date.now() },
  } as unknown as ServerContext;
  return { ctx, registry, ended };
}

const answerFor = (a: Admission) => (a.outcome === 'admitted' ? 'connect' : a.outcome);
const request = {
  callSid: SID,
  from: '+15550001111',
  to: '+15550002222',
  room: `call-${SID}`,
  log,
};

describe('admitCall', () => {
  it('frees the slot when setting up throws something unexpected, and settles the admission', async () => {
    const { ctx, registry, ended } = context({
      createCallRoom: () => Promise.reject(new TypeError('cannot read properties of undefined')),
    });
    const result = admitCall(ctx, request, answerFor);
    const call = registry.get(SID)!;
    expect((await result).answer).toBe('failed');
    await call.admission; // a repeated webhook waiting on it does not hang
    await registry.settled();
    expect(registry.active).toBe(0);
    expect(ended).toEqual([`${SID} admission_failed`]);
  });

  it('frees the slot when building the answer throws, and answers the failure instead', async () => {
    const { ctx, registry } = context({});
    const result = await admitCall(ctx, request, (a) => {
      if (a.outcome === 'admitted') throw new Error('no public URL');
      return a.outcome;
    });
    expect(result).toMatchObject({ admission: { outcome: 'failed' }, answer: 'failed' });
    await registry.settled();
    expect(registry.active).toBe(0);
  });

  it('admits once and leaves the call waiting for its stream', async () => {
    const { ctx, registry } = context({});
    const { answer } = await admitCall(ctx, request, answerFor);
    expect(answer).toBe('connect');
    expect(registry.get(SID)).toMatchObject({ phase: 'admitted', twiml: 'connect' });
  });

  it('turns away a call that has already ended, making nothing', async () => {
    let rooms = 0;
    const { ctx, registry } = context({
      createCallRoom: async () => {
        rooms++;
      },
    });
    ctx.endedCalls.add(SID);
    expect((await admitCall(ctx, request, answerFor)).admission).toEqual({
      outcome: 'busy',
      why: 'ended',
    });
    expect({ rooms, active: registry.active }).toEqual({ rooms: 0, active: 0 });
  });
});
