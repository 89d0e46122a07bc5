import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Call, EndReason } from './call.js';

/** The RPC method an agent calls to transfer the phone call. */
export const TRANSFER_METHOD = 'phonebridge.transfer';

/**
 * Answers an agent's `phonebridge.transfer` RPC: the number must be on the allow-list and
 * the REST API configured; the answer is JSON `{ok, reason?}` for the agent to act on.
 * `onTransferred` runs once Twilio has taken the call elsewhere.
 */
export async function answerTransfer(
  payload: string,
  ctx: { config: Config; callControl: CallControl; callSid: string; log: Logger },
  onTransferred: () => void,
): Promise<string> {
  let to: unknown;
  try {
    to = (JSON.parse(payload) as { to?: unknown }).to;
  } catch {
    return JSON.stringify({ ok: false, reason: 'payload must be JSON {"to":"+E164"}' });
  }
  if (typeof to !== 'string' || !ctx.config.TRANSFER_ALLOWLIST.includes(to)) {
    return JSON.stringify({ ok: false, reason: 'number is not on the transfer allow-list' });
  }
  if (!ctx.callControl.available) {
    return JSON.stringify({
      ok: false,
      reason: 'transfers need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
    });
  }
  try {
    await ctx.callControl.transfer(ctx.callSid, to);
    ctx.log.info('Call transferred by the agent');
    onTransferred();
    return JSON.stringify({ ok: true });
  } catch (err) {
    return JSON.stringify({
      ok: false,
      reason: `Twilio refused the transfer: ${(err as Error).message}`,
    });
  }
}

/**
 * Carries an agent's transfer RPC through: the agent hears the answer before the call (and
 * the room) goes away, and a call Twilio took elsewhere ends as `transferred`.
 */
export function relayTransfer(
  payload: string,
  ctx: { config: Config; callControl: CallControl; call: Call },
  reply: (answer: string) => void,
  endCall: (reason: EndReason) => void,
): void {
  const { call } = ctx;
  let transferred = false;
  void answerTransfer(
    payload,
    { config: ctx.config, callControl: ctx.callControl, callSid: call.callSid, log: call.log },
    () => {
      transferred = true;
      // Twilio stops the stream as it redirects: the call still ended by a transfer.
      call.intendedEndReason = 'transferred';
    },
  ).then((answer) => {
    reply(answer);
    if (transferred) endCall('transferred');
  });
}
