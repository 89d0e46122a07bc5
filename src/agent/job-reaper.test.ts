import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { DeadJobReaper } from './job-reaper.js';

type Jobs = ConstructorParameters<typeof DeadJobReaper>[0];

function job(id: string, room: string): Jobs['activeJobs'][number] {
  return {
    job: { id, room: { name: room } },
    acceptArguments: { identity: `agent-${id}`, name: '', metadata: '' },
  } as unknown as Jobs['activeJobs'][number];
}

/** A room service whose rooms hold the identities in `present`. */
function rooms(present: Set<string>) {
  const removed: string[] = [];
  return {
    removed,
    getParticipant: async (room: string, identity: string) => {
      if (!present.has(`${room}/${identity}`)) throw new Error('participant not found');
      return {} as never;
    },
    removeParticipant: async (room: string, identity: string) => {
      present.delete(`${room}/${identity}`);
      removed.push(`${room}/${identity}`);
    },
  };
}

const silent = createLogger({ level: 'silent' });

describe('DeadJobReaper', () => {
  it('removes the participant of a job whose process went away without leaving', async () => {
    const worker = { activeJobs: [job('AJ_1', 'call-CA1'), job('AJ_2', 'call-CA2')] };
    const svc = rooms(new Set(['call-CA1/agent-AJ_1', 'call-CA2/agent-AJ_2']));
    const reaper = new DeadJobReaper(worker, svc, silent);
    reaper.poll();
    expect(svc.removed).toEqual([]);
    // AJ_1's process is killed: the worker no longer lists it, its participant lingers.
    worker.activeJobs = [job('AJ_2', 'call-CA2')];
    reaper.poll();
    await reaper.stop();
    expect(svc.removed).toEqual(['call-CA1/agent-AJ_1']);
  });

  it('leaves alone a job that ended normally (its participant already left)', async () => {
    const worker = { activeJobs: [job('AJ_3', 'call-CA3')] };
    const svc = rooms(new Set(['call-CA3/agent-AJ_3']));
    const reaper = new DeadJobReaper(worker, svc, silent);
    reaper.poll();
    svc.removed.length = 0;
    // The job disconnected before its process exited.
    await svc.removeParticipant('call-CA3', 'agent-AJ_3');
    svc.removed.length = 0;
    worker.activeJobs = [];
    reaper.poll();
    await reaper.stop();
    expect(svc.removed).toEqual([]);
  });
});
