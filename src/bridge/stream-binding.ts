import type { Logger } from '../log.js';
import type { ServerContext } from '../server/context.js';
import { claimStream } from '../server/fleet.js';
import { CloseCodes } from '../twilio/stream-messages.js';
import type { Call } from './call.js';
import type { ClaimResult } from './shared-slots.js';
import { verifyStreamToken } from './stream-token.js';

export interface StreamIdentity {
  callSid: string;
  room: string;
  from: string;
  to: string;
  token: string | undefined;
}

export type Binding =
  | { ok: true; call: Call; adopted: boolean }
  | { ok: false; code: number; reason: string; why: string };

const refuse = (code: number, reason: string, why: string): Binding => ({
  ok: false,
  code,
  reason,
  why,
});

/**
 * Binds a stream's `start` to its call: the token must be ours and the call neither
 * ended nor already streaming anywhere. A stream whose webhook landed on another
 * instance is adopted: this instance takes the call over (slot, room, lifetime), and
 * the admitting one lets go (src/server/fleet.ts).
 */
export async function bindStream(
  ctx: ServerContext,
  s: StreamIdentity,
  log: Logger,
): Promise<Binding> {
  const check = verifyStreamToken(ctx.streamTokenSecret, s.token, s.callSid, s.room);
  if (!check.ok) return refuse(CloseCodes.unknownCall, check.reason, 'not an admitted call');
  if (ctx.endedCalls.has(s.callSid))
    return refuse(CloseCodes.unknownCall, 'call has ended', 'the call has ended');
  let call = ctx.registry.get(s.callSid);
  if (call && call.phase !== 'admitted') {
    return refuse(
      CloseCodes.duplicateStream,
      'call already has a stream',
      'this call already has a stream or has ended',
    );
  }
  const adopted = !call;
  if (!call) {
    if (!ctx.registry.hasRoom() || ctx.state.draining)
      return refuse(CloseCodes.goingAway, 'at capacity', 'at capacity');
    call = ctx.registry.admit({ ...s, log: ctx.log.child({ callSid: s.callSid }) });
  }
  let refused: Binding | undefined;
  let claim: ClaimResult | undefined;
  try {
    // The room lives exactly as long as the call: without it, joining would re-create it.
    if (adopted && !(await roomExists(ctx, call, log)))
      refused = refuse(CloseCodes.unknownCall, 'call has ended', 'its room is gone');
    else claim = await claimStream(ctx, call);
    if (claim === 'ended')
      refused = refuse(CloseCodes.unknownCall, 'call has ended', 'the call has ended');
    if (claim === 'taken')
      refused = refuse(
        CloseCodes.duplicateStream,
        'call already has a stream',
        'another instance carries this call',
      );
    if (claim === 'full')
      refused = refuse(CloseCodes.goingAway, 'at capacity', 'the fleet is at capacity');
  } finally {
    if (adopted) call.admissionDone();
  }
  if (refused) {
    // Our own call ended elsewhere (Twilio's status callback reached another instance).
    if (!adopted && claim === 'ended') void ctx.registry.end(call, 'status_callback');
    // Nothing was started for it here; the call, if it lives, lives on elsewhere.
    else ctx.registry.release(call);
    return refused;
  }
  if (call.ended) return refuse(CloseCodes.unknownCall, 'call has ended', 'the call has ended');
  return { ok: true, call, adopted };
}

async function roomExists(ctx: ServerContext, call: Call, log: Logger): Promise<boolean> {
  try {
    return await ctx.livekit.roomExists(call.room);
  } catch (err) {
    // Joining will fail the same way and end the call cleanly; no reason to refuse here.
    log.warn({ err: (err as Error).message }, 'Could not check the call room; adopting anyway');
    return true;
  }
}
