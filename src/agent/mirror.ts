import { AudioStream, type AudioSource, type RemoteTrack } from '@livekit/rtc-node';

/** Phone audio is 8 kHz; mirroring at that rate keeps it bit-comparable with the bridge. */
export const MIRROR_SAMPLE_RATE_HZ = 8000;
const MIRROR_FRAME_MS = 20;

/**
 * Copies every frame of `track` into `source`, unchanged, until the track ends or
 * `signal` aborts. Resolves with the number of frames copied.
 */
export async function mirrorAudio(
  track: RemoteTrack,
  source: AudioSource,
  signal: AbortSignal,
  onFrame?: (samples: Int16Array, durationMs: number) => void,
  onReading?: () => void,
): Promise<number> {
  const stream = new AudioStream(track, {
    sampleRate: source.sampleRate,
    numChannels: 1,
    frameSizeMs: MIRROR_FRAME_MS,
  });
  const reader = stream.getReader();
  onReading?.();
  // Cancelling the reader ends the pending read(), so an abort needs no extra polling.
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  let frames = 0;
  try {
    while (!signal.aborted) {
      const { done, value } = await reader.read();
      if (done) break;
      if (source.closed) break;
      onFrame?.(value.data, MIRROR_FRAME_MS);
      await source.captureFrame(value);
      frames++;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => undefined);
  }
  return frames;
}
