import type { AgentServer } from '@livekit/agents';
import { DataPacket_Kind, type RoomServiceClient } from 'livekit-server-sdk';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { AGENT_GONE_TOPIC, encodeAgentGone } from '../livekit/signals.js';

/** A Twirp "not_found" (no such participant or room). */
function isNotFound(err: unknown): boolean {
  const e = err as { status?: number; code?: string; message?: string } | null;
  return e?.status === 404 || e?.code === 'not_found' || /not.?found/i.test(e?.message ?? '');
}

/** How often the worker looks at its jobs. A dead process is noticed within this. */
export const REAPER_INTERVAL_MS = 200;

interface WatchedJob {
  jobId: string;
  room: string;
  identity: string;
}

/**
 * A job process that dies without finishing (SIGKILL, out of memory, a native crash)
 * cannot leave the room: its agent participant stays until livekit-server times it out,
 * about 20 s, and the caller hears nothing. The worker outlives its job processes, so it
 * watches them: when a job is gone from the worker's list (its process exited) while its
 * participant is still in the room, the process died, and the worker removes that
 * participant and tells the room at once (`phonebridge.agent-gone`, livekit/signals.ts).
 * A job that ended normally left the room before its process exited (the framework
 * disconnects, then reports done), so there is nothing to remove then.
 *
 * The framework offers no restart: livekit-server only honours a dispatch's
 * `restart_policy` on LiveKit Cloud. The bridge apologises and ends the call when the
 * agent leaves unexpectedly (docs/decisions.md).
 */
export class DeadJobReaper {
  private readonly jobs = new Map<string, WatchedJob>();
  private timer?: NodeJS.Timeout;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly server: Pick<AgentServer, 'activeJobs'>,
    private readonly rooms: Pick<RoomServiceClient, 'removeParticipant' | 'sendData'>,
    private readonly logger: Logger,
    private readonly intervalMs = REAPER_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops watching; resolves once removals already under way have finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.pending]);
  }

  /** One look at the worker's jobs (exposed for tests). */
  poll(): void {
    const live = new Set<string>();
    for (const info of this.server.activeJobs) {
      const jobId = info.job.id;
      live.add(jobId);
      const room = info.job.room?.name;
      if (!this.jobs.has(jobId) && room) {
        this.jobs.set(jobId, {
          jobId,
          room,
          identity: info.acceptArguments.identity,
        });
      }
    }
    for (const [jobId, job] of this.jobs) {
      if (live.has(jobId)) continue;
      this.jobs.delete(jobId);
      const task = this.reap(job, Date.now());
      this.pending.add(task);
      void task.finally(() => this.pending.delete(task));
    }
  }

  private async reap(job: WatchedJob, goneAt: number): Promise<void> {
    try {
      // One round trip: "not found" (it left, or the room is gone) means the job ended the
      // way it should.
      await this.rooms.removeParticipant(job.room, job.identity);
    } catch (err) {
      if (!isNotFound(err)) {
        this.logger.warn(
          { room: job.room, jobId: job.jobId, err: describeError(err) },
          'agent job process gone; could not remove its participant',
        );
      }
      return;
    }
    const removedAt = Date.now();
    // livekit-server tells the room about a participant without tracks in its next batch of
    // updates, up to 3 s later (subscriberUpdateInterval); a data packet goes out at once.
    await this.rooms
      .sendData(job.room, encodeAgentGone(job.identity, removedAt), DataPacket_Kind.RELIABLE, {
        topic: AGENT_GONE_TOPIC,
      })
      .catch((err: unknown) =>
        this.logger.warn({ room: job.room, err: describeError(err) }, 'could not tell the room'),
      );
    this.logger.warn(
      {
        room: job.room,
        jobId: job.jobId,
        participant: job.identity,
        noticedAt: goneAt,
        removedAfterMs: removedAt - goneAt,
      },
      'agent job process died mid-call; removed its participant from the room',
    );
  }
}
