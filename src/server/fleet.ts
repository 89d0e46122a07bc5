import type { Call } from '../bridge/call.js';
import type { ClaimResult } from '../bridge/shared-slots.js';
import type { ServerContext } from './context.js';

/**
 * A call belongs to exactly one instance at a time: the one whose webhook admitted it
 * until its stream starts, then the one carrying the stream. Behind a round-robin load
 * balancer these are usually different instances. With REDIS_URL the hand-over is
 * immediate (SharedSlots); without it, or while Redis is unreachable, LiveKit itself
 * tells: a call's room with a phone leg in it, on an instance that never saw the stream,
 * is carried elsewhere.
 */

/** Whether this instance still carries a call it admitted but never saw a stream for. */
export async function isStillOurs(ctx: ServerContext, call: Call): Promise<boolean> {
  if (ctx.sharedSlots) {
    try {
      return await ctx.sharedSlots.isOwner(call.callSid);
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 'Redis unavailable; asking LiveKit instead');
    }
  }
  return !(await ctx.livekit.hasPhoneLeg(call.room));
}

/**
 * Claims a call for the stream that started here, fleet-wide. Fails open (`ok`) when Redis
 * is unreachable, like admission: this instance's own limit still holds.
 */
export async function claimStream(ctx: ServerContext, call: Call): Promise<ClaimResult> {
  if (!ctx.sharedSlots) return 'ok';
  try {
    return await ctx.sharedSlots.claimStream(call.callSid);
  } catch (err) {
    call.log.warn(
      { err: (err as Error).message },
      'Redis unavailable; taking the stream on the local limit only',
    );
    return 'ok';
  }
}

/** Frees a call's fleet slot and remembers it ended; false when another instance carries it. */
export async function finishShared(
  ctx: ServerContext,
  call: Call,
  remember: boolean,
): Promise<boolean> {
  if (!ctx.sharedSlots) return true;
  try {
    return await ctx.sharedSlots.finish(call.callSid, remember);
  } catch (err) {
    call.log.warn(
      { err: (err as Error).message },
      'Could not release the shared call slot; it expires on its own',
    );
    return true;
  }
}

/** Acts on what other instances announce: let go of calls they took over, end calls Twilio ended. */
export function followFleet(ctx: ServerContext): void {
  const slots = ctx.sharedSlots;
  slots?.onEvent((event) => {
    const call = ctx.registry.get(event.callSid);
    if (event.type === 'ended') {
      ctx.endedCalls.add(event.callSid);
      if (call) void ctx.registry.end(call, 'status_callback');
      return;
    }
    // Our own claim comes back to us too; the call is ours then.
    if (event.to === slots.instanceId) return;
    if (call && ctx.registry.release(call))
      call.log.info({ to: event.to }, 'Call taken over by the instance carrying its stream');
  });
}
