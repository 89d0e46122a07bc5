import { VADEventType, inference } from '@livekit/agents';
import { AudioStream } from '@livekit/rtc-node';
import { concatPcm } from '../audio/analysis.js';
import { describeError } from '../errors.js';
import type { CallContext } from './call-context.js';
import { subscribeToCaller, waitForCallerAudio } from './caller.js';
import { publishAgentAudio } from './output.js';
import { Player } from './player.js';
import { type PromptName, loadPrompt } from './prompts.js';
import { announceInterruption, announceListening } from './bridge-signals.js';
import { SilenceWatchdog } from './silence.js';
import { AgentStatePublisher } from './state.js';

/** Silero runs at 16 kHz: reading the caller at that rate lets LiveKit resample natively. */
const ECHO_RATE_HZ = 16_000;

/**
 * Echo mode, a carrier's echo test line: greets with a prerecorded prompt, then plays back
 * each caller utterance once the offline Silero VAD reports its end. Caller speech cuts
 * the agent off. Long silence: "are you still there?", then goodbye and the room is deleted.
 */
export async function runEcho(call: CallContext): Promise<void> {
  const { ctx, config, logger, signal } = call;
  const room = ctx.room;
  const state = new AgentStatePublisher(room, (err) => {
    if (room.isConnected) logger.warn({ err: describeError(err) }, 'could not publish agent state');
  });
  // Both are signalling round trips: in parallel, they cost the call's start one.
  const [, output] = await Promise.all([
    state.set('listening'),
    publishAgentAudio(room, ECHO_RATE_HZ),
  ]);
  const player = new Player(output, state);

  let ending = false;
  let utterance = 0;
  const prompt = async (name: PromptName) => (await loadPrompt(name)).samples;
  // Plays one utterance; the watchdog ignores the time the agent itself is talking.
  const say = async (samples: Int16Array): Promise<boolean> => {
    const mine = ++utterance;
    watchdog.set('agent', true);
    try {
      return await player.play(samples);
    } finally {
      if (mine === utterance) watchdog.set('agent', false);
    }
  };
  const endCall = async (name: PromptName, reason: string): Promise<void> => {
    if (ending) return;
    ending = true;
    watchdog.stop();
    logger.info({ reason }, 'ending call');
    await say(await prompt(name)).catch(() => false);
    // Deleting the room is the contract for "hang up": the bridge ends the phone leg.
    await ctx.deleteRoom();
  };
  const watchdog = new SilenceWatchdog(
    config.SILENCE_PROMPT_AFTER_MS,
    () => {
      logger.info('caller silent: asking whether they are still there');
      prompt('still-there')
        .then(say)
        .catch((err: unknown) => logger.warn({ err: describeError(err) }, 'prompt failed'));
    },
    () => void endCall('goodbye', 'caller silent').catch(onEndError),
  );
  const onEndError = (err: unknown) =>
    logger.warn({ err: describeError(err) }, 'could not end the call cleanly');

  let reader: ReadableStreamDefaultReader | undefined;
  let vadStream: ReturnType<inference.VAD['stream']> | undefined;
  let vadClosed = false;
  const closeVad = () => {
    if (vadClosed || !vadStream) return;
    vadClosed = true;
    vadStream.close();
  };
  // The VAD stream's events do not end when its input does: close it too, or a call whose
  // room is gone keeps its job process (and the silence prompts) alive.
  const onAbort = () => {
    void reader?.cancel().catch(() => undefined);
    closeVad();
    watchdog.stop();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    subscribeToCaller(room, signal);
    const caller = await waitForCallerAudio(room, signal);
    logger.info({ caller: caller.participant.identity }, 'caller audio up');
    const vad = new inference.VAD({
      minSilenceDuration: config.SILENCE_DURATION_MS,
      prefixPaddingDuration: config.PREFIX_PADDING_MS,
    });
    const events = vad.stream();
    vadStream = events;
    const audio = new AudioStream(caller.track, {
      sampleRate: ECHO_RATE_HZ,
      numChannels: 1,
      frameSizeMs: 20,
    });
    const audioReader = audio.getReader();
    reader = audioReader;
    if (caller.track.sid) {
      announceListening(room, caller.track.sid).catch((err: unknown) =>
        logger.warn({ err: describeError(err) }, 'could not tell the bridge we listen'),
      );
    }
    const feeding = (async () => {
      try {
        for (;;) {
          const { done, value } = await audioReader.read();
          if (done || vadClosed) break;
          events.pushFrame(value);
        }
      } finally {
        if (!vadClosed) events.endInput();
      }
    })();

    watchdog.start();
    void say(await prompt('greeting')).catch(onEndError);

    for await (const ev of events) {
      if (ev.type === VADEventType.START_OF_SPEECH) {
        watchdog.set('caller', true);
        if (!ending && player.playing) {
          const heardAt = Date.now();
          await player.interrupt(async () => {
            const at = await announceInterruption(room);
            logger.info(
              { heardAt, announcedAt: at },
              'caller barged in: agent audio cut, bridge told',
            );
          });
        }
      } else if (ev.type === VADEventType.END_OF_SPEECH) {
        watchdog.set('caller', false);
        const speech = concatPcm(ev.frames.map((f) => f.data));
        logger.info({ speechMs: Math.round(ev.speechDuration) }, 'echoing caller utterance');
        if (!ending) void say(speech).catch(onEndError);
      }
    }
    await feeding;
    closeVad();
    await vad.close();
  } catch (err) {
    if (!signal.aborted) {
      logger.error({ err: describeError(err) }, 'echo agent failed');
      await endCall('apology', 'error').catch(onEndError);
    }
  } finally {
    watchdog.stop();
    signal.removeEventListener('abort', onAbort);
    await player.interrupt();
    await state.set('listening');
    await output.close();
  }
}
