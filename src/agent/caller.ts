import {
  ParticipantKind,
  RoomEvent,
  TrackKind,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
} from '@livekit/rtc-node';

import { announceListening } from './bridge-signals.js';

/** The audio track name the bridge publishes for the phone leg. */
export const CALLER_TRACK_NAME = 'phone-audio';

export interface CallerAudio {
  participant: RemoteParticipant;
  track: RemoteTrack;
}

function isCaller(p: RemoteParticipant): boolean {
  // The contract: the first participant that is not an agent is the caller. Identities
  // (`phone-…`) are informative only.
  return p.kind !== ParticipantKind.AGENT;
}

function audioTrackOf(p: RemoteParticipant): RemoteTrack | undefined {
  let fallback: RemoteTrack | undefined;
  for (const pub of p.trackPublications.values()) {
    const track = pub.track;
    if (!track || pub.kind !== TrackKind.KIND_AUDIO) continue;
    if (pub.name === CALLER_TRACK_NAME) return track;
    fallback ??= track;
  }
  return fallback;
}

/**
 * Resolves with the caller and its subscribed audio track. The room must auto-subscribe.
 * Rejects when `signal` aborts or the room disconnects first.
 */
export function waitForCallerAudio(room: Room, signal: AbortSignal): Promise<CallerAudio> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      room.off(RoomEvent.TrackSubscribed, onTrack);
      room.off(RoomEvent.Disconnected, onGone);
      signal.removeEventListener('abort', onGone);
    };
    const done = (value: CallerAudio) => {
      cleanup();
      resolve(value);
    };
    const onGone = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('room disconnected'));
    };
    const onTrack = (
      track: RemoteTrack,
      _pub: RemoteTrackPublication,
      participant: RemoteParticipant,
    ) => {
      if (track.kind === TrackKind.KIND_AUDIO && isCaller(participant))
        done({ participant, track });
    };
    if (signal.aborted) return onGone();
    room.on(RoomEvent.TrackSubscribed, onTrack);
    room.on(RoomEvent.Disconnected, onGone);
    signal.addEventListener('abort', onGone, { once: true });
    // The track may have been subscribed before we started listening.
    for (const p of room.remoteParticipants.values()) {
      const track = isCaller(p) ? audioTrackOf(p) : undefined;
      if (track) return done({ participant: p, track });
    }
  });
}

/**
 * Resolves once the caller has published its audio track, without subscribing to it (a
 * call opening that only needs to know the callee is there: outbound.ts). Rejects when
 * `signal` aborts or the room disconnects first.
 */
export function waitForCallerTrack(room: Room, signal: AbortSignal): Promise<RemoteParticipant> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      room.off(RoomEvent.TrackPublished, onPublished);
      room.off(RoomEvent.Disconnected, onGone);
      signal.removeEventListener('abort', onGone);
    };
    const onGone = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('room disconnected'));
    };
    const onPublished = (pub: RemoteTrackPublication, participant: RemoteParticipant) => {
      if (pub.kind !== TrackKind.KIND_AUDIO || !isCaller(participant)) return;
      cleanup();
      resolve(participant);
    };
    if (signal.aborted) return onGone();
    room.on(RoomEvent.TrackPublished, onPublished);
    room.on(RoomEvent.Disconnected, onGone);
    signal.addEventListener('abort', onGone, { once: true });
    for (const p of room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) onPublished(pub, p);
    }
  });
}

/**
 * Subscribes to the caller's audio, already published or published later, until `signal`
 * aborts. Job processes join without auto-subscription (job.ts) and a mode calls this once
 * it can read the track: the bridge starts sending the caller's audio when someone has
 * subscribed, and audio that reaches a subscription nobody reads yet is lost.
 */
export function subscribeToCaller(room: Room, signal: AbortSignal): void {
  const subscribe = (pub: RemoteTrackPublication, participant: RemoteParticipant) => {
    if (isCaller(participant) && pub.kind === TrackKind.KIND_AUDIO && !pub.subscribed) {
      pub.setSubscribed(true);
    }
  };
  if (signal.aborted) return;
  room.on(RoomEvent.TrackPublished, subscribe);
  signal.addEventListener('abort', () => room.off(RoomEvent.TrackPublished, subscribe), {
    once: true,
  });
  for (const p of room.remoteParticipants.values()) {
    for (const pub of p.trackPublications.values()) subscribe(pub, p);
  }
}

/**
 * Tells the bridge (`phonebridge.listening`) each time a caller audio track is subscribed,
 * for a mode whose reader attaches in its own TrackSubscribed handler registered before
 * this one (the AgentSession's room input): by the time this runs, the reader exists.
 */
export function announceListeningOnSubscribe(
  room: Room,
  signal: AbortSignal,
  onError: (err: unknown) => void,
): void {
  const onTrack = (
    track: RemoteTrack,
    _pub: RemoteTrackPublication,
    participant: RemoteParticipant,
  ) => {
    if (track.kind === TrackKind.KIND_AUDIO && isCaller(participant) && track.sid) {
      announceListening(room, track.sid).catch(onError);
    }
  };
  if (signal.aborted) return;
  room.on(RoomEvent.TrackSubscribed, onTrack);
  signal.addEventListener('abort', () => room.off(RoomEvent.TrackSubscribed, onTrack), {
    once: true,
  });
}
