import type { Room } from '@livekit/rtc-node';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { waitForCallerAudio } from './caller.js';
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
  await state.set('listening');
  const output = await publishAgentAudio(room, MIRROR_SAMPLE_RATE_HZ);
  try {
    const caller = await waitForCallerAudio(room, signal);
    logger.info({ caller: caller.participant.identity }, 'loopback started');
    // Always "speaking": the mirror plays continuously, and a speaking→listening flip
    // would make the bridge clear Twilio's buffer mid-measurement.
    await state.set('speaking');
    const frames = await mirrorAudio(caller.track, output.source, signal);
    logger.info({ frames }, 'loopback ended');
  } finally {
    await state.set('listening');
    await output.close();
  }
}
