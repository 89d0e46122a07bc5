import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { dispose } from '@livekit/rtc-node';
import { dominantFrequency, rmsDbfs, tone } from '../../src/audio/analysis.js';
import { FakeCaller, CALLER_RATE_HZ } from '../../src/agent/testing/fake-caller.js';
import { WorkerProcess, childPids, alive } from '../../src/agent/testing/worker-process.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const AGENT_NAME = `pb-loopback-${process.pid}`;

describe('agent worker in loopback mode', () => {
  let worker: WorkerProcess;
  const lk = livekit();

  beforeAll(async () => {
    worker = await WorkerProcess.start({
      env: {
        LIVEKIT_URL: lk.url,
        LIVEKIT_API_KEY: lk.apiKey,
        LIVEKIT_API_SECRET: lk.apiSecret,
        AGENT_NAME,
        AGENT_MODE: 'loopback',
      },
    });
  }, 120_000);

  afterAll(async () => {
    const children = worker ? childPids(worker.pid!) : [];
    await worker?.stop();
    // The worker's job and inference processes go with it.
    await waitFor(() => children.every((pid) => !alive(pid)), 15_000, 'job processes to exit');
    await dispose();
  });

  it('is dispatched into a call room and mirrors the caller tone back', async () => {
    const room = uniqueRoom('call-CAloop');
    const svc = roomService();
    await svc.createRoom({ name: room, emptyTimeout: 30 });
    const caller = new FakeCaller();
    try {
      await caller.join(lk.url, await tokenFor('phone-15550001111', room));
      const dispatchedAt = Date.now();
      await new AgentDispatchClient(
        lk.url.replace(/^ws/, 'http'),
        lk.apiKey,
        lk.apiSecret,
      ).createDispatch(room, AGENT_NAME, {
        metadata: JSON.stringify({ callSid: 'CAloop', from: '+15550001111', to: '+15550002222' }),
      });
      await waitFor(() => caller.agent !== undefined, 20_000, 'agent to join');
      const joinMs = Date.now() - dispatchedAt;
      await waitFor(
        () => caller.agentStates.some((s) => s.state === 'speaking'),
        10_000,
        'speaking state',
      );

      // 1 s of 440 Hz, then silence; the mirror must return it.
      const before = Date.now();
      await caller.play(tone(440, 1000, CALLER_RATE_HZ, 0.5));
      const sentAt = caller.playStarts[0]!;
      await waitFor(() => caller.firstAudibleAt(before) !== undefined, 10_000, 'mirrored audio');
      const backAt = caller.firstAudibleAt(before)!;
      await new Promise((r) => setTimeout(r, 1500));
      // Judge the middle of the returned tone: Opus and jitter buffers settle at its start.
      const back = caller.audioSince(backAt + 200).subarray(0, CALLER_RATE_HZ / 2);
      expect(Math.abs(dominantFrequency(back, CALLER_RATE_HZ, 100, 3000) - 440)).toBeLessThan(15);
      expect(Math.abs(rmsDbfs(back) - rmsDbfs(tone(440, 500, CALLER_RATE_HZ, 0.5)))).toBeLessThan(
        4,
      );
      console.log(
        `loopback: agent joined ${joinMs} ms after dispatch; round trip caller→agent→caller ≈ ${backAt - sentAt} ms`,
      );
    } finally {
      await caller.leave();
      await svc.deleteRoom(room).catch(() => undefined);
    }
  });
});
