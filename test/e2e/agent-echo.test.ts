import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { dispose } from '@livekit/rtc-node';
import { FakeCaller, CALLER_RATE_HZ } from '../../src/agent/testing/fake-caller.js';
import type { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { alive, childPids, startWorker } from '../../src/agent/testing/worker-process.js';
import { activeSpanMs, fixtureWav } from '../../src/agent/testing/speech.js';
import { expectRecording, expectWholeSpeech, shippedPrompts } from '../helpers/prompt-match.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const AGENT_NAME = `pb-echo-${process.pid}`;
const SILENCE_MS = 4000;

describe('agent worker in echo mode', () => {
  let worker: WorkerProcess;
  const lk = livekit();

  beforeAll(async () => {
    worker = await startWorker(lk, {
      AGENT_NAME,
      SILENCE_PROMPT_AFTER_MS: String(SILENCE_MS),
    });
  }, 120_000);

  afterAll(async () => {
    const children = worker ? childPids(worker.pid!) : [];
    await worker?.stop();
    await waitFor(() => children.every((pid) => !alive(pid)), 15_000, 'job processes to exit');
    await dispose();
  });

  it('greets, is interrupted by speech, echoes an utterance faithfully, then hangs up on silence', async () => {
    const room = uniqueRoom('call-CAecho');
    const svc = roomService();
    await svc.createRoom({ name: room, emptyTimeout: 30 });
    const caller = new FakeCaller();
    const speech = fixtureWav('caller-hello.wav');
    expect(speech.sampleRateHz).toBe(CALLER_RATE_HZ);
    const speakingCount = () => caller.agentStates.filter((s) => s.state === 'speaking').length;
    const lastState = () => caller.agentStates.at(-1)?.state;
    try {
      await caller.join(lk.url, await tokenFor('phone-15550003333', room));
      await new AgentDispatchClient(
        lk.url.replace(/^ws/, 'http'),
        lk.apiKey,
        lk.apiSecret,
      ).createDispatch(room, AGENT_NAME, {
        metadata: JSON.stringify({ callSid: 'CAecho', from: '+15550003333', to: '+15550004444' }),
      });

      // 1. The greeting starts without the caller saying anything.
      await waitFor(() => caller.firstAudibleAt() !== undefined, 20_000, 'greeting audio');
      expect(speakingCount()).toBe(1);

      // 2. Barge-in: speaking during the (5 s) greeting stops it, and the words come back.
      await new Promise((r) => setTimeout(r, 800));
      await caller.play(speech.samples);
      const spokeUntil = Date.now();
      await waitFor(() => speakingCount() >= 2, 10_000, 'echo after barge-in');
      // From the greeting on (the agent may report `listening` once before it).
      const turns = caller.agentStates.slice(
        caller.agentStates.findIndex((s) => s.state === 'speaking'),
      );
      expect(turns.slice(0, 3).map((s) => s.state)).toEqual(['speaking', 'listening', 'speaking']);
      // The greeting stopped while the caller was still talking, not when it had finished.
      expect(turns[1]!.atMs).toBeLessThan(spokeUntil);
      await waitFor(() => lastState() === 'listening', 10_000, 'echo to finish');

      // 3. In a quiet line, the echo is the caller's sentence: its duration, its sounds in order.
      const before = Date.now();
      await caller.play(speech.samples);
      await waitFor(() => speakingCount() >= 3, 10_000, 'second echo to start');
      await waitFor(() => lastState() === 'listening', 10_000, 'second echo to finish');
      await new Promise((r) => setTimeout(r, 500));
      const echoed = caller.audioSince(before);
      const sentMs = activeSpanMs(speech.samples, CALLER_RATE_HZ);
      const backMs = activeSpanMs(echoed, CALLER_RATE_HZ);
      console.log(`echo: sent ${sentMs} ms of speech, got back ${backMs} ms`);
      expectWholeSpeech(backMs, sentMs);
      // The caller's own sentence, not a prompt of the agent's.
      expectRecording([echoed], CALLER_RATE_HZ, 'sentence', {
        sentence: speech,
        ...shippedPrompts(),
      });

      // 4. Silence: "are you still there?", then goodbye and the room is deleted.
      await waitFor(() => speakingCount() >= 4, SILENCE_MS + 10_000, 'still-there prompt');
      await waitFor(
        async () => !(await svc.listRooms([room])).some((r) => r.name === room),
        2 * SILENCE_MS + 20_000,
        'room deleted after goodbye',
      );
      expect(speakingCount()).toBeGreaterThanOrEqual(5);
    } finally {
      await caller.leave();
      await svc.deleteRoom(room).catch(() => undefined);
    }
  });
});
