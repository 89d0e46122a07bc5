import { voice } from '@livekit/agents';
import { AudioSource, type AudioFrame, type Room } from '@livekit/rtc-node';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { announceInterruption } from '../bridge-signals.js';

/** The framework's audio output chain, as far as we walk it. */
interface ChainedOutput {
  nextInChain?: ChainedOutput;
  audioSource?: unknown;
}

/** The AudioSource that feeds the agent's published track, at the end of the output chain. */
export function findOutputSource(output: unknown): AudioSource | undefined {
  for (let o = output as ChainedOutput | undefined; o; o = o.nextInChain) {
    if (o.audioSource instanceof AudioSource) return o.audioSource;
  }
  return undefined;
}

/**
 * Cuts the agent's voice the moment the Realtime server hears the caller over it, instead
 * of when the framework gets round to it. On `input_audio_buffer.speech_started` the
 * framework interrupts the speech, waits for its audio forwarding to stop (which sits in
 * a native capture until the 200 ms queue has room) and only then clears the output.
 * Here, on the same event (the user state becoming `speaking` while the agent speaks):
 *
 * 1. the framework's own `clearBuffer()` runs at once: it bumps the output's generation,
 *    so no frame of this utterance is captured any more, and clears the source's queue
 *    with its playback position accounted (what the model is told the caller heard);
 * 2. a frame whose native capture was already under way lands in the just-emptied queue:
 *    once such captures finish, the queue is cleared again;
 * 3. only then is the bridge told (`phonebridge.interrupted`), so nothing of the
 *    interrupted utterance follows the packet.
 *
 * Returns a function that stops watching.
 */
export function cutOnBargeIn(session: voice.AgentSession, room: Room, logger: Logger): () => void {
  const source = findOutputSource(session.output.audio);
  if (!source) {
    logger.warn('no agent audio source found; barge-in relies on the framework alone');
  }
  const inFlight = new Set<Promise<void>>();
  if (source) {
    const capture = source.captureFrame.bind(source);
    source.captureFrame = (frame: AudioFrame) => {
      const p = capture(frame);
      const tracked = p.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      return p;
    };
  }
  const onUserState = (ev: voice.UserStateChangedEvent) => {
    if (ev.newState !== 'speaking' || session.agentState !== 'speaking') return;
    const heardAt = Date.now();
    const queuedMs = source?.queuedDuration ?? 0;
    session.output.audio?.clearBuffer();
    const landing = [...inFlight];
    void (async () => {
      await Promise.all(landing);
      if (landing.length > 0 && !source?.closed) source?.clearQueue();
      const flushedAt = Date.now();
      const at = await announceInterruption(room);
      logger.info(
        {
          heardAt,
          flushedAt,
          announcedAt: at,
          flushMs: flushedAt - heardAt,
          queuedMs: Math.round(queuedMs),
          inFlight: landing.length,
        },
        'caller barged in: agent audio cut, bridge told',
      );
    })().catch((err: unknown) => {
      if (room.isConnected) {
        logger.warn({ err: describeError(err) }, 'could not announce the interruption');
      }
    });
  };
  session.on(voice.AgentSessionEventTypes.UserStateChanged, onUserState);
  return () => session.off(voice.AgentSessionEventTypes.UserStateChanged, onUserState);
}
