import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { AGENT_GONE_TOPIC } from '../livekit/signals.js';
import { DeadJobReaper } from './job-reaper.js';

type Jobs = ConstructorParameters<typeof DeadJobReaper>[0];

function job(id: string, room: string): Jobs['activeJobs'][number] {
  return {
    job: { id, room: { name: room } },
    acceptArguments: { identity: `agent-${id}`, name: '', metadata: '' },
  } as unknown as Jobs['activeJobs'][number];
}

/** A room service whose rooms hold the identities in `present`, answering as Twirp does. */
function rooms(present: Set<string>) {
  const removed: string[] = [];
  const sent: { room: string; topic?: string; payload: Record<string, unknown> }[] = [];
  return {
    removed,
    sent,
    removeParticipant: async (room: string, identity: string) => {
      if (!present.delete(`${room}/${identity}`)) {
        throw Object.assign(new Error('participant not found'), { status: 404, code: 'not_found' });
      }
      removed.push(`${room}/${identity}`);
    },
    sendData: async (room: string, data: Uint8Array, _kind: unknown, opts: { topic?: string }) => {
      sent.push({ room, topic: opts.topic, payload: JSON.parse(new TextDecoder().decode(data)) });
    },
  };
}

const silent = createLogger({ level: 'silent' });

describe('DeadJobReaper', () => {
  it('removes the participant of a job whose process went away, and tells the room', async () => {
    const worker = { activeJobs: [job('AJ_1', 'call-CA1'), job('AJ_2', 'call-CA2')] };
    const svc = rooms(new Set(['call-CA1/agent-AJ_1', 'call-CA2/agent-AJ_2']));
    const reaper = new DeadJobReaper(worker, svc as never, silent);
    reaper.poll();
    expect(svc.removed).toEqual([]);
    // AJ_1's process is killed: the worker no longer lists it, its participant lingers.
    worker.activeJobs = [job('AJ_2', 'call-CA2')];
    reaper.poll();
    await reaper.stop();
    expect(svc.removed).toEqual(['call-CA1/agent-AJ_1']);
    expect(svc.sent).toEqual([
      {
        room: 'call-CA1',
        topic: AGENT_GONE_TOPIC,
        payload: { at: expect.any(Number), participant: 'agent-AJ_1' },
      },
    ]);
  });

  it('leaves alone a job that ended normally (its participant already left)', async () => {
    const worker = { activeJobs: [job('AJ_3', 'call-CA3')] };
    const svc = rooms(new Set());
    const reaper = new DeadJobReaper(worker, svc as never, silent);
    reaper.poll();
    worker.activeJobs = [];
    reaper.poll();
    await reaper.stop();
    expect(svc.removed).toEqual([]);
    expect(svc.sent).toEqual([]);
  });
});
