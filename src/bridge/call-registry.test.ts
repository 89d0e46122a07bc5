import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.js';
import type { Call, EndReason } from './call.js';
import { CallRegistry, type CallRegistryOptions } from './call-registry.js';

const log = createLogger({ level: 'silent' });
let n = 0;

function setup(opts: Partial<CallRegistryOptions> = {}) {
  const ended: [string, EndReason][] = [];
  const registry = new CallRegistry({
    capacity: 2,
    streamStartTimeoutMs: 1000,
    onEnded: async (call, reason) => {
      ended.push([call.callSid, reason]);
    },
    ...opts,
  });
  const admit = (): Call => {
    const callSid = `CA${String(++n).padStart(32, '0')}`;
    return registry.admit({
      callSid,
      from: '+15550001111',
      to: '+15550002222',
      room: `call-${callSid}`,
      log,
    });
  };
  return { registry, ended, admit };
}

describe('CallRegistry', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('takes a slot synchronously at admission and refuses a second call with the same CallSid', () => {
    const { registry, admit } = setup();
    const a = admit();
    expect(registry.active).toBe(1);
    expect(() => registry.admit({ ...a, log })).toThrow(/already registered/);
    admit();
    expect(registry.hasRoom()).toBe(false);
  });

  it('ends a call whose stream never starts, once, and frees its slot', async () => {
    const { registry, ended, admit } = setup();
    const call = admit();
    call.admissionDone();
    expect(registry.awaitStream(call)).toBe(true);
    await vi.advanceTimersByTimeAsync(999);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await registry.settled();
    expect(ended).toEqual([[call.callSid, 'stream_timeout']]);
    expect(registry.active).toBe(0);
    expect(call.phase).toBe('ended');
  });

  it('a call that started streaming is not timed out', async () => {
    const { registry, ended, admit } = setup();
    const call = admit();
    call.admissionDone();
    registry.awaitStream(call);
    expect(registry.streamStarted(call, 'MZ1')).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(ended).toEqual([]);
    expect(call.phase).toBe('streaming');
  });

  it('an end during admission waits for it, and the ended call never comes back', async () => {
    const { registry, ended, admit } = setup();
    const call = admit();
    const ending = registry.end(call, 'status_callback');
    expect(call.signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    // The room may still be being created: its deletion waits for admission to finish.
    expect(ended).toEqual([]);
    expect(registry.awaitStream(call)).toBe(false);
    call.admissionDone();
    await ending;
    expect(ended).toEqual([[call.callSid, 'status_callback']]);
    expect(call.phase).toBe('ended');
    expect(registry.streamStarted(call, 'MZ1')).toBe(false);
    expect(call.phase).toBe('ended');
    expect(registry.active).toBe(0);
  });

  it('frees the slot of a call whose admission never settles, after a bound', async () => {
    const { registry, ended, admit } = setup();
    const call = admit(); // admissionDone() is never called: a bug elsewhere
    const ending = registry.end(call, 'shutdown');
    await vi.advanceTimersByTimeAsync(14_999);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await ending;
    expect(ended).toEqual([[call.callSid, 'shutdown']]);
    expect(registry.active).toBe(0);
  });

  it('ends a call once however many times it is ended', async () => {
    const { registry, ended, admit } = setup();
    const call = admit();
    call.admissionDone();
    await Promise.all([
      registry.end(call, 'stream_stop'),
      registry.end(call, 'socket_closed'),
      registry.end(call, 'status_callback'),
    ]);
    expect(ended).toEqual([[call.callSid, 'stream_stop']]);
  });

  it('frees the slot even when teardown fails', async () => {
    const { registry, admit } = setup({
      onEnded: () => Promise.reject(new Error('LiveKit down')),
    });
    const call = admit();
    call.admissionDone();
    call.onTeardown(() => Promise.reject(new Error('track gone')));
    await registry.end(call, 'error');
    expect(registry.active).toBe(0);
  });

  it('lets go of a call another instance took over: slot freed, nothing torn down', async () => {
    const released: string[] = [];
    const { registry, ended, admit } = setup({ onReleased: (c) => released.push(c.callSid) });
    const call = admit();
    call.admissionDone();
    let tornDown = false;
    call.onTeardown(async () => {
      tornDown = true;
    });
    registry.awaitStream(call);
    expect(registry.release(call)).toBe(true);
    expect(registry.active).toBe(0);
    expect(call.phase).toBe('moved');
    expect(call.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(5000); // its stream timer is gone too
    await registry.end(call, 'status_callback');
    await registry.settled();
    expect({ ended, tornDown, released }).toEqual({
      ended: [],
      tornDown: false,
      released: [call.callSid],
    });
    // A streaming call is ours for good.
    const live = admit();
    live.admissionDone();
    registry.streamStarted(live, 'MZ2');
    expect(registry.release(live)).toBe(false);
  });

  it('at the stream timeout, lets go when another instance carries the call, else ends it', async () => {
    const elsewhere = new Set<string>();
    const { registry, ended, admit } = setup({
      isStillOurs: async (c) => !elsewhere.has(c.callSid),
    });
    const moved = admit();
    const lost = admit();
    for (const c of [moved, lost]) {
      c.admissionDone();
      registry.awaitStream(c);
    }
    elsewhere.add(moved.callSid);
    await vi.advanceTimersByTimeAsync(1000);
    await registry.settled();
    expect(moved.phase).toBe('moved');
    expect(ended).toEqual([[lost.callSid, 'stream_timeout']]);
    expect(registry.active).toBe(0);
  });

  it('ends a timed-out call when it cannot tell who carries it', async () => {
    const { registry, ended, admit } = setup({
      isStillOurs: () => Promise.reject(new Error('Redis down')),
    });
    const call = admit();
    call.admissionDone();
    registry.awaitStream(call);
    await vi.advanceTimersByTimeAsync(1000);
    await registry.settled();
    expect(ended).toEqual([[call.callSid, 'stream_timeout']]);
  });

  it('ends a call for the reason the bridge gave before Twilio stopped its stream', async () => {
    const registry = new CallRegistry({
      capacity: 2,
      streamStartTimeoutMs: 60_000,
      onEnded: async () => undefined,
    });
    const call = registry.admit({
      callSid: 'CA' + 'e'.repeat(32),
      from: '+15550000001',
      to: '+15550000002',
      room: 'call-x',
      log: createLogger({ level: 'silent' }),
    });
    call.admissionDone();
    registry.awaitStream(call);
    call.intendedEndReason = 'agent_left';
    await registry.end(call, 'stream_stop');
    expect(call.endReason).toBe('agent_left');
  });
});
