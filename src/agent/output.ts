import {
  AudioSource,
  LocalAudioTrack,
  TrackPublishOptions,
  TrackSource,
  type Room,
} from '@livekit/rtc-node';

/** The name of the one audio track the agent publishes (the bridge does not depend on it). */
export const AGENT_TRACK_NAME = 'agent-audio';

/** The agent's published voice: an AudioSource and the track it feeds. */
export interface AgentAudioOutput {
  readonly source: AudioSource;
  readonly sampleRateHz: number;
  close(): Promise<void>;
}

/**
 * Publishes one microphone-source audio track fed by a mono AudioSource at `sampleRateHz`
 * (8 kHz for phone audio: the native side resamples, so no JavaScript resampler runs).
 * `queueSizeMs` bounds how far ahead captureFrame may run, which is also the most audio
 * a barge-in has to discard.
 */
export async function publishAgentAudio(
  room: Room,
  sampleRateHz: number,
  queueSizeMs = 100,
): Promise<AgentAudioOutput> {
  const participant = room.localParticipant;
  if (!participant) throw new Error('room is not connected');
  const source = new AudioSource(sampleRateHz, 1, queueSizeMs);
  const track = LocalAudioTrack.createAudioTrack(AGENT_TRACK_NAME, source);
  const options = new TrackPublishOptions();
  options.source = TrackSource.SOURCE_MICROPHONE;
  await participant.publishTrack(track, options);
  let closed: Promise<void> | undefined;
  return {
    source,
    sampleRateHz,
    close() {
      closed ??= (async () => {
        await track.close().catch(() => undefined);
        await source.close().catch(() => undefined);
      })();
      return closed;
    },
  };
}
