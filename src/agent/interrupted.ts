import type { Room } from '@livekit/rtc-node';

/**
 * Contract with the bridge: when the caller cuts the agent off, the agent publishes one
 * reliable data packet on this topic, `{"at": <epoch ms>}`, as soon as its own audio is
 * flushed and before its `lk.agent.state` leaves `speaking`. The bridge clears Twilio's
 * queue on it and discards agent audio until the agent's state is `speaking` again. After
 * the packet the agent publishes nothing more of the interrupted utterance.
 */
export const INTERRUPTED_TOPIC = 'phonebridge.interrupted';

const encoder = new TextEncoder();

/** Publishes the interruption packet; resolves with its `at`. */
export async function announceInterruption(room: Room, at = Date.now()): Promise<number> {
  const participant = room.localParticipant;
  if (!participant || !room.isConnected) return at;
  await participant.publishData(encoder.encode(JSON.stringify({ at })), {
    reliable: true,
    topic: INTERRUPTED_TOPIC,
  });
  return at;
}
