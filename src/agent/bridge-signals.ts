import type { Room } from '@livekit/rtc-node';

/**
 * Data packets the agent sends the bridge: reliable, JSON, one topic each. The bridge owns
 * the phone leg; these tell it what only the agent knows.
 */

/**
 * The caller cut the agent off: `{"at": <epoch ms>}`, sent as soon as the agent's own
 * audio is flushed and before its `lk.agent.state` leaves `speaking`. The bridge clears
 * Twilio's queue on it and discards agent audio until the agent's state is `speaking`
 * again. After the packet the agent publishes nothing more of the interrupted utterance.
 */
export const INTERRUPTED_TOPIC = 'phonebridge.interrupted';

/**
 * The agent reads the caller's track now: `{"at": <epoch ms>, "track": "<track sid>"}`,
 * sent once its reader on that track exists (and again for a new track or subscription).
 * livekit-server tells the publisher "subscribed" when the down track is bound, which can
 * come a few hundred milliseconds before a busy agent has a reader on it: audio sent in
 * between is decoded for nobody. Holding the caller's audio until this packet loses none.
 */
export const LISTENING_TOPIC = 'phonebridge.listening';

/**
 * The agent's job process died mid-call (killed, out of memory, crashed) and its worker
 * removed its participant: `{"at": <epoch ms>, "participant": "<identity>"}`, sent by the
 * worker through the server API (so from no participant). livekit-server reports the
 * departure of a participant without tracks in its next batch of updates, up to 3 s
 * later; this packet reaches the bridge at once. The bridge apologises and ends the call.
 */
export const AGENT_GONE_TOPIC = 'phonebridge.agent-gone';

/**
 * The agent's participant attribute naming the packets above it sends, comma-separated
 * (`listening,interrupted`). Set at connect, before the agent subscribes to the caller: a
 * bridge that sees `listening` here holds the caller's audio until that packet instead of
 * guessing a settle time after the subscription.
 */
export const SIGNALS_ATTRIBUTE = 'phonebridge.signals';
export const SIGNALS = 'listening,interrupted';

const encoder = new TextEncoder();

/** Sets SIGNALS_ATTRIBUTE on the agent's participant. */
export async function advertiseSignals(room: Room): Promise<void> {
  const participant = room.localParticipant;
  if (!participant || !room.isConnected) return;
  await participant.setAttributes({ [SIGNALS_ATTRIBUTE]: SIGNALS });
}

/** The `phonebridge.agent-gone` payload. */
export function encodeAgentGone(participant: string, at = Date.now()): Uint8Array {
  return encoder.encode(JSON.stringify({ at, participant }));
}

async function publish(room: Room, topic: string, payload: Record<string, unknown>) {
  const participant = room.localParticipant;
  if (!participant || !room.isConnected) return;
  await participant.publishData(encoder.encode(JSON.stringify(payload)), {
    reliable: true,
    topic,
  });
}

/** Publishes the interruption packet; resolves with its `at`. */
export async function announceInterruption(room: Room, at = Date.now()): Promise<number> {
  await publish(room, INTERRUPTED_TOPIC, { at });
  return at;
}

/** Publishes the listening packet for the caller's track `trackSid`. */
export async function announceListening(room: Room, trackSid: string): Promise<void> {
  await publish(room, LISTENING_TOPIC, { at: Date.now(), track: trackSid });
}
