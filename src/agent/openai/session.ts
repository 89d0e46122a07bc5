import { voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { ParticipantKind, RoomEvent } from '@livekit/rtc-node';
import { describeError } from '../../errors.js';
import type { CallContext } from '../call-context.js';
import { announceListeningOnSubscribe, subscribeToCaller, waitForCallerAudio } from '../caller.js';
import { sayPromptAndHangUp } from '../hangup.js';
import { SilenceWatchdog } from '../silence.js';
import { cutOnBargeIn } from './barge-in.js';
import { toOpenAIError } from './errors.js';
import { callInstructions, greetingInstruction } from './instructions.js';
import { openOutboundSession } from './outbound.js';
import { ensureKeyForCall } from './preflight.js';
import { phoneTools } from './tools.js';
import { TranscriptWriter } from './transcript.js';

/** If the goodbye after end_call never finishes playing, hang up anyway after this. */
const HANGUP_FALLBACK_MS = 15_000;

/**
 * OpenAI mode: an AgentSession on the Realtime API with server VAD, our phone instructions
 * and tools, a silence watchdog, transcripts, and an apology + hang-up on any OpenAI failure.
 * Resolves when the session has closed.
 */
export async function runOpenAI(call: CallContext): Promise<void> {
  const { ctx, config, meta, logger, signal } = call;
  const room = ctx.room;
  const transcript = new TranscriptWriter(meta.callSid, logger, config.TRANSCRIPT_DIR);
  const model = new openai.realtime.RealtimeModel({
    model: config.OPENAI_MODEL,
    voice: config.OPENAI_VOICE,
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    turnDetection: {
      type: 'server_vad',
      threshold: config.VAD_THRESHOLD,
      silence_duration_ms: config.SILENCE_DURATION_MS,
      prefix_padding_ms: config.PREFIX_PADDING_MS,
      create_response: true,
      interrupt_response: true,
    },
  });
  // Our SilenceWatchdog replaces the framework's userAwayTimeout (seconds, one stage only).
  // No AEC warm-up: for the first 3 s the agent speaks, the framework would feed the model
  // silence instead of the caller (for a browser's echo canceller to settle). A phone leg's
  // echo is cancelled in the network, and that is when callers say "Hello?" or cut in.
  const session = new voice.AgentSession({
    llm: model,
    userAwayTimeout: null,
    aecWarmupDuration: null,
  });
  const outbound = meta.direction === 'outbound';
  // Outbound: nothing reaches the model before the AMD verdict (src/agent/openai/outbound.ts).
  if (outbound) session.input.setAudioEnabled(false);
  let failing: Promise<void> | undefined;

  // Created first because `fail` may stop it before anything else exists; its callbacks
  // only run once the session is up, after `say` and `hangUpAfterReply` are defined.
  const watchdog = new SilenceWatchdog(
    config.SILENCE_PROMPT_AFTER_MS,
    () => {
      logger.info('caller silent: asking whether they are still there');
      say('The caller has been silent for a while. Ask briefly whether they are still there.');
    },
    () => {
      logger.info('caller still silent: saying goodbye');
      hangUpAfterReply('caller silent');
      say('The caller is still silent. Say a short, friendly goodbye; the call then ends.');
    },
  );

  const fail = (err: unknown): Promise<void> => {
    failing ??= (async () => {
      const e = toOpenAIError(err);
      // The one line operators look for; the framework's own error logs are extra detail.
      logger.error({ code: e.code }, e.message);
      watchdog.stop();
      await session.close().catch(() => undefined);
      await sayPromptAndHangUp(call, 'apology');
    })();
    return failing;
  };

  // Keeps a key the worker saw rejected off the Realtime socket (preflight.ts); free otherwise.
  let instructions: string;
  try {
    [instructions] = await Promise.all([callInstructions(config, meta), ensureKeyForCall(config)]);
  } catch (err) {
    await fail(err);
    return;
  }

  let hangupReason: string | undefined;
  let hangupTimer: NodeJS.Timeout | undefined;
  const hangUp = (reason: string) => {
    clearTimeout(hangupTimer);
    watchdog.stop();
    logger.info({ reason }, 'ending call');
    ctx
      .deleteRoom()
      .catch((err: unknown) => logger.warn({ err: describeError(err) }, 'delete failed'));
  };
  const hangUpAfterReply = (reason: string) => {
    if (hangupReason) return;
    hangupReason = reason;
    watchdog.stop();
    hangupTimer = setTimeout(() => hangUp(`${reason} (goodbye not finished)`), HANGUP_FALLBACK_MS);
  };

  const say = (instructions: string) => {
    try {
      session.generateReply({ instructions });
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'could not generate a reply');
    }
  };
  const agent = new voice.Agent({
    instructions,
    tools: phoneTools({
      room,
      callerIdentity: () =>
        [...room.remoteParticipants.values()].find((p) => p.kind !== ParticipantKind.AGENT)
          ?.identity,
      allowlist: config.TRANSFER_ALLOWLIST,
      logger,
      hangUpAfterReply,
    }),
  });

  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) =>
    watchdog.set('caller', ev.newState === 'speaking'),
  );
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
    watchdog.set('agent', ev.newState === 'speaking' || ev.newState === 'thinking');
    // end_call: hang up once the goodbye has been spoken.
    if (hangupReason && ev.oldState === 'speaking' && ev.newState !== 'speaking') {
      hangUp(hangupReason);
    }
  });
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    const item = ev.item;
    if (item.type !== 'message' || (item.role !== 'user' && item.role !== 'assistant')) return;
    transcript.add({
      role: item.role === 'user' ? 'caller' : 'agent',
      text: item.textContent ?? '',
      interrupted: item.interrupted || undefined,
    });
  });
  session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    const e = toOpenAIError(ev.error);
    // Rate limits and quota arrive as "recoverable" failed responses, but the caller would
    // only hear silence: treat them like a fatal error.
    if (!ev.error.recoverable || /rate limit|quota|API key/.test(e.message)) {
      void fail(ev.error);
    } else {
      logger.warn({ code: e.code }, e.message);
    }
  });
  const closed = new Promise<void>((resolve) =>
    session.once(voice.AgentSessionEventTypes.Close, (ev) => {
      if (ev.error) void fail(ev.error);
      resolve();
    }),
  );
  const onDtmf = (_code: number, digit: string) =>
    say(
      `The caller pressed the key "${digit}" on their phone keypad. React if it means something.`,
    );
  room.on(RoomEvent.DtmfReceived, onDtmf);

  let stopCutting: (() => void) | undefined;
  try {
    await session.start({
      agent,
      room,
      inputOptions: { closeOnDisconnect: true },
      record: false,
    });
    logger.info(
      { model: config.OPENAI_MODEL, voice: config.OPENAI_VOICE, greeting: config.GREETING },
      'openai session started',
    );
    stopCutting = cutOnBargeIn(session, room, logger);
    // Subscribed only now that the session's audio input reads the track and the Realtime
    // plugin queues what it is given until its socket is up: nothing the caller says is lost.
    announceListeningOnSubscribe(room, signal, (err) =>
      logger.warn({ err: describeError(err) }, 'could not tell the bridge we listen'),
    );
    subscribeToCaller(room, signal);
    const caller = await waitForCallerAudio(room, signal);
    logger.info({ caller: caller.participant.identity, at: Date.now() }, 'caller audio up');
    const talk =
      !outbound ||
      (await openOutboundSession({ room, meta, logger, signal, session, say, hangUp }));
    if (talk && (meta.greeting ?? config.GREETING) === 'agent-first') {
      say(greetingInstruction(config, meta));
    }
    if (talk) watchdog.start();
    await Promise.race([
      closed,
      new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      ),
    ]);
  } catch (err) {
    if (!signal.aborted) await fail(err);
  } finally {
    stopCutting?.();
    room.off(RoomEvent.DtmfReceived, onDtmf);
    watchdog.stop();
    clearTimeout(hangupTimer);
    await failing;
    await transcript.flush();
  }
}
