import type { Call } from '../bridge/call.js';
import type { AcquireResult } from '../bridge/shared-slots.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerContext } from './context.js';

export interface AdmitCallRequest {
  /** Twilio's CallSid; an outbound call's own reference (`out-…`) until Twilio names it. */
  callSid: string;
  from: string;
  to: string;
  room: string;
  log: Logger;
  /** JSON for the room and the agent's dispatch: the call context the agent gets. */
  metadata?: string;
  /** How long the admitted call waits for its stream (an outbound call rings first). */
  streamTimeoutMs?: number;
}

export type Admission =
  /** Room made and agent dispatched; the call waits for its stream (or SIP leg). */
  | { outcome: 'admitted'; call: Call }
  /** Turned away before anything was made. */
  | { outcome: 'busy'; why: 'capacity' | 'draining' | 'fleet' | 'ended' }
  /** Another instance is admitting or carrying this call (a webhook retried to another instance). */
  | { outcome: 'elsewhere' }
  /** LiveKit trouble; the call is being ended. */
  | { outcome: 'failed'; error?: unknown }
  /** The call ended while it was being admitted (a terminal status callback won). */
  | { outcome: 'ended' };

/**
 * Admits one call: takes its slot (here, then fleet-wide), creates its room and
 * dispatches the agent, rechecking after every await that the call has not ended
 * meanwhile. Every path ends with the call admitted once, or its slot freed.
 * `answer(admission)` runs exactly once, before the admission settles (so a repeated
 * webhook that waited for it replays the same answer); its result is `call.answer`.
 */
export async function admitCall(
  ctx: ServerContext,
  req: AdmitCallRequest,
  answer: (a: Admission) => string,
): Promise<{ admission: Admission; answer: string }> {
  const { config, registry, metrics } = ctx;
  const { log } = req;
  const early = ((): Extract<Admission, { outcome: 'busy' }> | undefined => {
    if (ctx.endedCalls.has(req.callSid)) return { outcome: 'busy', why: 'ended' };
    if (ctx.state.draining) return { outcome: 'busy', why: 'draining' };
    if (!registry.hasRoom()) return { outcome: 'busy', why: 'capacity' };
    return undefined;
  })();
  if (early) {
    metrics.calls.inc({ outcome: 'rejected_busy' });
    logBusy(ctx, log, early.why);
    return { admission: early, answer: answer(early) };
  }

  // The local slot is taken first (synchronously) so this instance never overshoots;
  // Redis then holds the fleet-wide limit.
  const call = registry.admit(req);
  let admission: Admission = { outcome: 'failed' };
  try {
    admission = await setUp(ctx, call, req.metadata);
  } catch (err) {
    log.error(
      { err: describeError(err), room: call.room },
      'Could not set up the call in LiveKit; turning it away',
    );
    admission = { outcome: 'failed', error: err };
  }
  // A status callback that ended the call meanwhile wins over whatever we got done.
  if (call.ended && admission.outcome === 'admitted') admission = { outcome: 'ended' };
  let text = '';
  try {
    try {
      text = answer(admission);
      if (admission.outcome === 'admitted') {
        // The media never reaches us in SIP mode; the slot is held until the status callback.
        if (config.BRIDGE_MODE === 'sip') registry.streamStarted(call, 'sip');
        else registry.awaitStream(call, req.streamTimeoutMs);
      }
    } catch (err) {
      log.error({ err: describeError(err) }, 'Could not answer the webhook; ending the call');
      admission = { outcome: 'failed' };
      text = answer(admission);
    }
  } finally {
    // Whatever happened, the admission settles (a repeated webhook waits on it) and the
    // call is either admitted or on its way out.
    call.twiml = text;
    call.admissionDone();
    metrics.calls.inc({ outcome: OUTCOME_LABELS[admission.outcome] });
    if (admission.outcome === 'busy') logBusy(ctx, log, admission.why);
    if (admission.outcome === 'ended')
      log.info('Call ended while it was being admitted; no agent, no stream');
    if (admission.outcome === 'elsewhere')
      log.info('Another instance is admitting this call; answering without admitting it here');
    if (admission.outcome === 'elsewhere') registry.release(call);
    // Answer now; the teardown (deleting a half-made room) may wait on the same unhealthy LiveKit.
    else if (admission.outcome !== 'admitted') void registry.end(call, 'admission_failed');
  }
  return { admission, answer: text };
}

function logBusy(ctx: ServerContext, log: Logger, why: string): void {
  const messages: Record<string, string> = {
    capacity: 'Rejected call: at capacity',
    draining: 'Rejected call: draining for shutdown',
    fleet: 'Rejected call: the fleet is at capacity',
    ended: 'Rejected call: it has already ended',
  };
  log.warn(
    { active: ctx.registry.active, capacity: ctx.config.MAX_CONCURRENT_CALLS, why },
    messages[why] ?? 'Rejected call',
  );
}

const OUTCOME_LABELS: Record<Admission['outcome'], string> = {
  admitted: 'bridged',
  busy: 'rejected_busy',
  failed: 'rejected_error',
  ended: 'ended_during_admission',
  elsewhere: 'admitted_elsewhere',
};

/** The awaited part of admission; returns early, making nothing more, once the call ended. */
async function setUp(ctx: ServerContext, call: Call, context?: string): Promise<Admission> {
  const { config, livekit } = ctx;
  const acquired = await acquireShared(ctx, call);
  if (acquired === 'full') return { outcome: 'busy', why: 'fleet' };
  if (acquired === 'ended') return { outcome: 'busy', why: 'ended' };
  if (acquired === 'elsewhere') return { outcome: 'elsewhere' };
  if (call.ended) return { outcome: 'ended' };
  const metadata =
    context ?? JSON.stringify({ callSid: call.callSid, from: call.from, to: call.to });
  // SIP mode dispatches the agent with the room: the SIP participant joins a room that
  // already exists, so the dispatch rule's own room configuration would never apply.
  const dispatchWithRoom = config.AGENT_DISPATCH && config.BRIDGE_MODE === 'sip';
  await livekit.createCallRoom({
    name: call.room,
    metadata,
    emptyTimeoutSeconds: config.ROOM_EMPTY_TIMEOUT_SECONDS,
    maxParticipants: config.ROOM_MAX_PARTICIPANTS,
    ...(dispatchWithRoom && { agent: { name: config.AGENT_NAME, metadata } }),
  });
  call.log.info({ room: call.room }, `Created room '${call.room}' for call ${call.callSid}`);
  // Ended while the room was being made: no agent (billed) for a call that is over; the
  // ending waits for us and then deletes the room.
  if (call.ended) return { outcome: 'ended' };
  if (config.AGENT_DISPATCH && config.BRIDGE_MODE === 'stream')
    await livekit.dispatchAgent(call.room, config.AGENT_NAME, metadata);
  if (config.AGENT_DISPATCH)
    call.log.info(
      { room: call.room, agentName: config.AGENT_NAME },
      `Dispatched agent '${config.AGENT_NAME}' to room '${call.room}'`,
    );
  return { outcome: 'admitted', call };
}

/**
 * Fails open: when Redis is unreachable the call is taken (each instance's own limit
 * still holds), because refusing every caller is worse than briefly exceeding the
 * fleet-wide count.
 */
async function acquireShared(ctx: ServerContext, call: Call): Promise<AcquireResult> {
  if (!ctx.sharedSlots) return 'ok';
  try {
    return await ctx.sharedSlots.acquire(call.callSid);
  } catch (err) {
    call.log.warn(
      { err: (err as Error).message },
      'Redis unavailable; admitting on the local limit only',
    );
    return 'ok';
  }
}
