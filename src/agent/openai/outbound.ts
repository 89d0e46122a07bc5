import { voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import { DEFAULT_VOICEMAIL_MESSAGE } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { awaitOpening } from '../answered-by.js';
import type { CallMetadata } from '../metadata.js';
import { VOICEMAIL_TAIL_MS } from '../outbound.js';

/** A voicemail message longer than this is cut short by hanging up anyway. */
const VOICEMAIL_MAX_MS = 60_000;

export interface OutboundSessionDeps {
  room: Room;
  meta: CallMetadata;
  logger: Logger;
  signal: AbortSignal;
  session: voice.AgentSession;
  /** Asks the model for a reply with these instructions. */
  say: (instructions: string) => void;
  /** Ends the call now (deletes the room). */
  hangUp: (reason: string) => void;
}

/**
 * Opens an outbound call in openai mode. The session was started with its audio input off,
 * so nothing the callee (or their voicemail greeting) says makes the model answer before
 * Twilio's AMD verdict. A person: input on, resolves true. A machine whose greeting ended:
 * the model speaks the voicemail message, and the call ends once it has been played. Any
 * other machine: hang up. Resolves false when the call is being ended.
 */
export async function openOutboundSession(d: OutboundSessionDeps): Promise<boolean> {
  const opening = await awaitOpening(d.room, d.meta.machine ?? 'voicemail', d.signal, d.logger);
  if (opening === 'talk') {
    d.session.input.setAudioEnabled(true);
    return true;
  }
  if (opening === 'hangup') {
    d.hangUp('answered by a machine');
    return false;
  }
  const message = d.meta.voicemailMessage ?? DEFAULT_VOICEMAIL_MESSAGE;
  d.logger.info('leaving the voicemail message');
  const spoken = spokenOnce(d.session, d.signal);
  d.say(
    `You reached an answering machine and its greeting is over: you are being recorded now. Leave this message, word for word, then stop talking: "${message}"`,
  );
  await spoken;
  await new Promise((r) => setTimeout(r, VOICEMAIL_TAIL_MS));
  d.hangUp('voicemail left');
  return false;
}

/** Resolves when the agent stops speaking after it started, or after VOICEMAIL_MAX_MS. */
function spokenOnce(session: voice.AgentSession, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const onState = (ev: voice.AgentStateChangedEvent) => {
      if (ev.oldState === 'speaking' && ev.newState !== 'speaking') done();
    };
    const timer = setTimeout(done, VOICEMAIL_MAX_MS);
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
    signal.addEventListener('abort', done, { once: true });
  });
}
