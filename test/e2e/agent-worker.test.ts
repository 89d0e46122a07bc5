import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentDispatchClient } from 'livekit-server-sdk';
import {
  DisconnectReason,
  ParticipantKind,
  RoomEvent,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import { AGENT_GONE_TOPIC } from '../../src/livekit/signals.js';
import { FakeCaller } from '../../src/agent/testing/fake-caller.js';
import type { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { alive, childPids, startWorker } from '../../src/agent/testing/worker-process.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const AGENT_NAME = `pb-worker-${process.pid}`;
const lk = livekit();
const svc = roomService();
const dispatcher = new AgentDispatchClient(lk.url.replace(/^ws/, 'http'), lk.apiKey, lk.apiSecret);

describe('agent worker (dev mode, echo)', () => {
  let worker: WorkerProcess;

  beforeAll(async () => {
    worker = await startWorker(lk, {
      AGENT_NAME,
      AGENT_MODE: 'echo',
      AGENT_IDLE_PROCESSES: '1',
      SILENCE_PROMPT_AFTER_MS: '4000',
      AGENT_PROCESS_INIT_TIMEOUT_MS: '120000',
    });
  }, 120_000);

  afterAll(async () => {
    const children = worker ? childPids(worker.pid!) : [];
    await worker?.stop();
    await waitFor(() => children.every((pid) => !alive(pid)), 15_000, 'job processes to exit');
    await dispose();
  });

  async function call(callSid: string) {
    const room = uniqueRoom(`call-${callSid}`);
    await svc.createRoom({ name: room, emptyTimeout: 30 });
    const caller = new FakeCaller();
    await caller.join(lk.url, await tokenFor('phone-15550007777', room));
    await dispatcher.createDispatch(room, AGENT_NAME, {
      metadata: JSON.stringify({ callSid, from: '+15550007777', to: '+15550008888' }),
    });
    return { caller, room };
  }

  it('keeps a loaded job process idle, so a call runs in a process started before it', async () => {
    const ready = await worker.waitForLog((l) => l.msg === 'job process ready', 90_000);
    const { caller, room } = await call('CAwarm');
    try {
      const joined = await worker.waitForLog(
        (l) => l.msg === 'agent joined call' && l.callSid === 'CAwarm',
        30_000,
      );
      // The call's process is one that had finished loading before the dispatch.
      expect(joined.pid).toBe(ready.pid);
      expect(joined.idleMs).toBeGreaterThan(0);
      await waitFor(() => caller.subscribedAt !== undefined, 10_000, 'agent to subscribe');
      console.log(
        `warm agent: process loaded in ${String(ready.loadMs)} ms, idle ${String(joined.idleMs)} ms before the call`,
      );
    } finally {
      await caller.leave();
      await svc.deleteRoom(room).catch(() => undefined);
    }
  });

  it('a call whose room is deleted ends its job at once, not after the silence prompts', async () => {
    const { caller, room } = await call('CAgone');
    try {
      await worker.waitForLog((l) => l.msg === 'agent joined call' && l.callSid === 'CAgone');
      await waitFor(() => caller.subscribedAt !== undefined, 10_000, 'agent to subscribe');
      await svc.deleteRoom(room);
      const left = await worker.waitForLog(
        (l) => l.msg === 'agent leaving call' && l.callSid === 'CAgone',
        30_000,
      );
      // Before the fix the echo line kept talking to nobody: "are you still there?" after
      // SILENCE_PROMPT_AFTER_MS, then goodbye, and only then did its process exit.
      const prompted = worker.logs.filter(
        (l) => l.callSid === 'CAgone' && String(l.msg).startsWith('caller silent'),
      );
      expect(prompted).toEqual([]);
      expect(left).toBeDefined();
    } finally {
      await caller.leave();
      await svc.deleteRoom(room).catch(() => undefined);
    }
  });

  it('a job process killed mid-call: the worker removes its participant from the room', async () => {
    const { caller, room } = await call('CAkill');
    const left: { participant: RemoteParticipant; atMs: number }[] = [];
    caller.room.on(RoomEvent.ParticipantDisconnected, (participant) => {
      if (participant.kind === ParticipantKind.AGENT) left.push({ participant, atMs: Date.now() });
    });
    try {
      const joined = await worker.waitForLog(
        (l) => l.msg === 'agent joined call' && l.callSid === 'CAkill',
        30_000,
      );
      await waitFor(() => caller.agent !== undefined, 10_000, 'agent to be in the room');
      const agentIdentity = caller.agent!.identity;
      const pid = joined.pid as number;
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      // The worker tells the room at once …
      const gone = () => caller.dataPackets.find((p) => p.topic === AGENT_GONE_TOPIC);
      await waitFor(() => gone() !== undefined, 10_000, 'the worker to say the agent is gone');
      expect(JSON.parse(gone()!.payload)).toMatchObject({ participant: agentIdentity });
      // … and removes it: LiveKit itself would drop the silent participant after ~20 s, and
      // reports a removal to the others in its next batch of updates (up to 3 s).
      await waitFor(() => left.length > 0, 15_000, 'the dead agent to leave the room');
      expect(left[0]!.participant.identity).toBe(agentIdentity);
      expect(left[0]!.participant.disconnectReason).toBe(DisconnectReason.PARTICIPANT_REMOVED);
      const removed = await worker.waitForLog(
        (l) =>
          l.msg === 'agent job process died mid-call; removed its participant from the room' &&
          l.room === room,
      );
      expect(removed.participant).toBe(agentIdentity);
      const participants = await svc.listParticipants(room);
      expect(participants.some((p) => p.identity === agentIdentity)).toBe(false);
      console.log(
        `killed job process: the worker noticed ${(removed.noticedAt as number) - killedAt} ms after SIGKILL, removed the participant ${String(removed.removedAfterMs)} ms later; ` +
          `the caller got phonebridge.agent-gone ${gone()!.atMs - killedAt} ms and the participant's departure ${left[0]!.atMs - killedAt} ms after SIGKILL`,
      );
    } finally {
      await caller.leave();
      await svc.deleteRoom(room).catch(() => undefined);
    }
  });
});
