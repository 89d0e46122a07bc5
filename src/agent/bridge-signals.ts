/** The agent's side of src/livekit/signals.ts: publishing from its room. */
import type { Room } from '@livekit/rtc-node';
import {
  INTERRUPTED_TOPIC,
  LISTENING_TOPIC,
  SIGNALS,
  SIGNALS_ATTRIBUTE,
} from '../livekit/signals.js';

const encoder = new TextEncoder();

/** Sets SIGNALS_ATTRIBUTE on the agent's participant. */
export async function advertiseSignals(room: Room): Promise<void> {
  const participant = room.localParticipant;
  if (!participant || !room.isConnected) return;
  await participant.setAttributes({ [SIGNALS_ATTRIBUTE]: SIGNALS });
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
