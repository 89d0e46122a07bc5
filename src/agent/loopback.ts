import {
  RoomEvent,
  type Participant,
  type RemoteTrackPublication,
  type Room,
} from '@livekit/rtc-node';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  SilentTrackWatchdog,
  renewSubscription,
  subscribedAudioOf,
} from '../livekit/silent-track-watchdog.js';
import { announceListening } from './bridge-signals.js';
import { subscribeToCaller, waitForCallerAudio } from './caller.js';
import { MIRROR_SAMPLE_RATE_HZ, mirrorAudio } from './mirror.js';
import { publishAgentAudio } from './output.js';
import { AgentStatePublisher } from './state.js';

/**
 * Loopback mode: mirrors the caller's audio back frame for frame, with no processing, so
 * the bridge and load tests can measure round-trip latency and fidelity of the whole path.
 * Resolves when the caller's track ends, the room disconnects, or `signal` aborts.
 */
export async function runLoopback(room: Room, logger: Logger, signal: AbortSignal): Promise<void> {
  const state = new AgentStatePublisher(room, (err) => {
    // Losing the room mid-update is how calls end; only a live room's failure matters.
    if (room.isConnected) logger.warn({ err: describeError(err) }, 'could not publish agent state');
  });
  // Both are signalling round trips: in parallel, they cost the call's start one.
  const [, output] = await Promise.all([
    state.set('listening'),
    publishAgentAudio(room, MIRROR_SAMPLE_RATE_HZ),
  ]);
  // The SFU hearing the caller while we decode digital silence is a dead subscription
  // (silent-track-watchdog.ts): drop it, take a fresh one, and mirror that instead.
  let callerHeardBySfu = false;
  const onSpeakers = (speakers: Participant[]) => {
    callerHeardBySfu = speakers.some((p) => p.identity !== room.localParticipant?.identity);
  };
  room.on(RoomEvent.ActiveSpeakersChanged, onSpeakers);
  // Set by the watchdog while the mirror runs, read by the loop after it.
  const renew: { pub?: RemoteTrackPublication } = {};
  let renewTimer: NodeJS.Timeout | undefined;
  const watchdog = new SilentTrackWatchdog({
    isSpeaking: () => callerHeardBySfu,
    onSilent: () => {
      renew.pub = subscribedAudioOf(room.remoteParticipants.values());
      if (!renew.pub) return;
      logger.warn({ track: renew.pub.sid }, 'caller audio is digital silence; resubscribing');
      clearTimeout(renewTimer);
      renewTimer = renewSubscription(renew.pub, () => !signal.aborted && room.isConnected);
    },
  });
  try {
    let frames = 0;
    subscribeToCaller(room, signal);
    for (;;) {
      const caller = await waitForCallerAudio(room, signal);
      if (renew.pub) {
        renew.pub = undefined;
      } else {
        logger.info({ caller: caller.participant.identity }, 'loopback started');
        // Always "speaking": the mirror plays continuously, and a speaking→listening flip
        // would make the bridge clear Twilio's buffer mid-measurement.
        await state.set('speaking');
      }
      watchdog.reset();
      const listening = () => {
        if (!caller.track.sid) return;
        announceListening(room, caller.track.sid).catch((err: unknown) => {
          if (room.isConnected) logger.warn({ err: describeError(err) }, 'could not signal');
        });
      };
      frames += await mirrorAudio(
        caller.track,
        output.source,
        signal,
        (pcm, ms) => watchdog.onFrame(pcm, ms),
        listening,
      );
      // Re-read: the watchdog may have set it while the mirror ran. If it did, the mirror
      // ended because the track was dropped, and the fresh one is on its way.
      const renewing = renew.pub as RemoteTrackPublication | undefined;
      if (!renewing || signal.aborted || !room.isConnected) break;
    }
    logger.info({ frames }, 'loopback ended');
  } finally {
    clearTimeout(renewTimer);
    room.off(RoomEvent.ActiveSpeakersChanged, onSpeakers);
    await state.set('listening');
    await output.close();
  }
}
