import type { CallContext } from './call-context.js';
import { awaitOpening } from './answered-by.js';
import { waitForCallerTrack } from './caller.js';
import { sayPromptAndHangUp } from './hangup.js';

/**
 * After the last frame of the message has left the agent, it still crosses the SFU, the
 * bridge's jitter buffer and Twilio's playback queue (OUTBOUND_QUEUE_MS): hanging up at
 * once would cut the end of the message off the recording.
 */
export const VOICEMAIL_TAIL_MS = 1000;

/**
 * How the offline modes (echo, loopback) open a call the API placed: wait until the callee
 * answers and Twilio says who it is. A person: resolves true, and the mode runs as for any
 * call. A machine: leaves the shipped voicemail prompt (the offline modes have no voice of
 * their own for `voicemailMessage`) or hangs up; resolves false.
 */
export async function openOutboundOffline(call: CallContext): Promise<boolean> {
  const { ctx, meta, logger, signal } = call;
  // Not subscribed: the mode subscribes once it reads the audio (job.ts), so the bridge
  // keeps holding what the callee says until then.
  await waitForCallerTrack(ctx.room, signal);
  const opening = await awaitOpening(ctx.room, meta.machine ?? 'voicemail', signal, logger);
  if (opening === 'talk') return true;
  if (opening === 'voicemail') {
    logger.info('leaving the voicemail message (shipped prompt)');
    await sayPromptAndHangUp(call, 'voicemail', VOICEMAIL_TAIL_MS);
  } else {
    logger.info('hanging up without a word');
    await ctx.deleteRoom();
  }
  return false;
}
