import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Call } from '../bridge/call.js';
import type { ServerContext } from './context.js';

export interface AdmissionRequest {
  /** Twilio's CallSid; an outbound call's own reference until Twilio names it. */
  callSid: string;
  from: string;
  to: string;
  room: string;
  streamToken: string;
  /** JSON for the room and the agent's dispatch: the call context the agent gets. */
  metadata: string;
  log: Logger;
}

export type Admission =
  | { kind: 'admitted'; call: Call }
  /** At capacity (this instance or the fleet) or draining; `call` when a slot had been taken. */
  | { kind: 'busy'; call?: Call }
  /** LiveKit could not set the call up. */
  | { kind: 'failed'; call: Call; error: unknown };

/**
 * The one admission path, for calls Twilio brings in and calls the API places: a slot
 * (this instance first, synchronously, so it never overshoots; then the fleet's in Redis),
 * the room, and the agent dispatched into it. A call that is not admitted must be freed
 * with `abandonAdmission`.
 */
export async function admitCall(ctx: ServerContext, req: AdmissionRequest): Promise<Admission> {
  const { config } = ctx;
  const log = req.log;
  if (ctx.state.draining || !ctx.registry.hasRoom()) {
    ctx.metrics.calls.inc({ outcome: 'rejected_busy' });
    log.warn(
      {
        active: ctx.registry.active,
        capacity: ctx.registry.capacity,
        draining: ctx.state.draining,
      },
      ctx.state.draining ? 'Rejected call: draining for shutdown' : 'Rejected call: at capacity',
    );
    return { kind: 'busy' };
  }
  const call = ctx.registry.admit({
    callSid: req.callSid,
    from: req.from,
    to: req.to,
    room: req.room,
    streamToken: req.streamToken,
    log,
  });

  if (ctx.sharedSlots && !(await acquireShared(ctx, req.callSid, log))) {
    ctx.metrics.calls.inc({ outcome: 'rejected_busy' });
    log.warn({ capacity: config.MAX_CONCURRENT_CALLS }, 'Rejected call: the fleet is at capacity');
    return { kind: 'busy', call };
  }

  try {
    await ctx.livekit.createCallRoom({
      name: req.room,
      metadata: req.metadata,
      emptyTimeoutSeconds: config.ROOM_EMPTY_TIMEOUT_SECONDS,
      maxParticipants: config.ROOM_MAX_PARTICIPANTS,
    });
    log.info({ room: req.room }, `Created room '${req.room}' for call ${req.callSid}`);
    if (config.AGENT_DISPATCH && config.BRIDGE_MODE === 'stream') {
      await ctx.livekit.dispatchAgent(req.room, config.AGENT_NAME, req.metadata);
      log.info(
        { room: req.room, agentName: config.AGENT_NAME },
        `Dispatched agent '${config.AGENT_NAME}' to room '${req.room}'`,
      );
    }
  } catch (err) {
    ctx.metrics.calls.inc({ outcome: 'rejected_error' });
    log.error(
      { err: describeError(err), room: req.room },
      'Could not set up the call in LiveKit; turning it away',
    );
    return { kind: 'failed', call, error: err };
  }
  return { kind: 'admitted', call };
}

/**
 * Frees a call that will not go ahead. `twiml` is what a retried webhook replays. The
 * teardown (deleting a half-made room) runs in the background: it may wait on the same
 * unhealthy LiveKit, and the answer must not.
 */
export function abandonAdmission(ctx: ServerContext, call: Call, twiml?: string): void {
  if (twiml !== undefined) call.twiml = twiml;
  call.admissionDone();
  void ctx.registry.end(call, 'admission_failed');
}

/**
 * Fails open: when Redis is unreachable the call is taken (each instance's own limit
 * still holds), because refusing every caller is worse than briefly exceeding the
 * fleet-wide count.
 */
async function acquireShared(ctx: ServerContext, callSid: string, log: Logger): Promise<boolean> {
  try {
    return await ctx.sharedSlots!.acquire(callSid);
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'Redis unavailable; admitting on the local limit only',
    );
    return true;
  }
}
