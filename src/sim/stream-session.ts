import WebSocket from 'ws';
import type { Logger } from '../log.js';
import { outboundMessage } from '../twilio/stream-messages.js';
import type { Clock } from './clock.js';
import { sendMedia, type MediaSenderStats, type TroubleOptions } from './media-sender.js';
import { decodeMulaw } from '../audio/g711.js';
import { Playback, runPlaybackClock } from './playback.js';
import { StreamSequence } from './sequence.js';
import { signWebSocketUrl } from './signing.js';
import type { StreamTarget } from './twiml.js';

/** How a Media Stream ended, from the caller's side. */
export type StreamEnd =
  | 'caller-done' // audio and listening time over: the caller hung up normally
  | 'caller-hangup' // --hangup-at: the caller hung up mid-call
  | 'call-ended' // the call ended on Twilio's side (a REST hang-up or redirect)
  | 'server-closed' // phonebridge closed the socket
  | 'open-failed' // the upgrade was refused or never completed
  | 'aborted'; // the simulator was told to stop

export interface StreamSessionOptions {
  target: StreamTarget;
  /** Where to physically connect: the --url base (ws/wss is derived from http/https). */
  connectBaseUrl: string;
  /** The base URL Twilio would have used (PUBLIC_URL): used to map the path prefix. */
  publicBaseUrl: string;
  authToken: string;
  accountSid: string;
  callSid: string;
  streamSid: string;
  audio: Int16Array;
  listenMs: number;
  hangupAtMs?: number;
  /** Aborted when the call ends on Twilio's side (REST hang-up, redirect): `stop`, then close. */
  callEnded?: AbortSignal;
  trouble?: TroubleOptions;
  clock: Clock;
  openTimeoutMs: number;
  log?: Logger;
}

export interface StreamSessionResult {
  end: StreamEnd;
  connectUrl: string;
  /** Clock instant the stream started (start sent), or null when it never opened. */
  startedAtMs: number | null;
  durationMs: number;
  closeCode: number | null;
  closeReason: string;
  openError?: string;
  sender: MediaSenderStats;
  framesReceived: number;
  messagesReceived: number;
  protocolErrors: string[];
  protocolErrorCount: number;
  playback: Playback;
}

/**
 * Maps the TwiML's public `wss://` URL onto the address we can reach: same path (with the
 * public base's path prefix swapped for the connect base's), scheme and host from --url.
 */
export function physicalStreamUrl(
  wssUrl: string,
  connectBaseUrl: string,
  publicBaseUrl: string,
): string {
  const target = new URL(wssUrl);
  const base = new URL(connectBaseUrl);
  const publicPrefix = new URL(publicBaseUrl).pathname.replace(/\/+$/, '');
  let path = target.pathname;
  if (publicPrefix && path.startsWith(publicPrefix + '/')) path = path.slice(publicPrefix.length);
  const basePrefix = base.pathname.replace(/\/+$/, '');
  const scheme = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${base.host}${basePrefix}${path}`;
}

const MAX_KEPT_ERRORS = 20;

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}

/**
 * Plays Twilio's part of one bidirectional Media Stream: signed upgrade, `connected`,
 * `start`, paced inbound media with trouble, outbound playback with mark/clear, `stop`.
 */
export async function runStreamSession(
  opts: StreamSessionOptions,
  signal: AbortSignal,
): Promise<StreamSessionResult> {
  const { clock, streamSid } = opts;
  const connectUrl = physicalStreamUrl(opts.target.url, opts.connectBaseUrl, opts.publicBaseUrl);
  const sequence = new StreamSequence();
  const session = new AbortController();
  const onOuterAbort = (): void => session.abort(signal.reason);
  signal.addEventListener('abort', onOuterAbort, { once: true });

  const protocolErrors: string[] = [];
  let protocolErrorCount = 0;
  const protocolError = (msg: string): void => {
    protocolErrorCount++;
    if (protocolErrors.length < MAX_KEPT_ERRORS) protocolErrors.push(msg);
  };

  const ws = new WebSocket(connectUrl, {
    headers: { 'X-Twilio-Signature': signWebSocketUrl(opts.authToken, opts.target.url) },
    perMessageDeflate: false,
    handshakeTimeout: opts.openTimeoutMs,
  });
  const send = (text: string): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(text);
  };
  const playback = new Playback((echo) =>
    send(
      JSON.stringify({
        event: 'mark',
        streamSid,
        sequenceNumber: sequence.next(),
        mark: { name: echo.name },
      }),
    ),
  );
  let framesReceived = 0;
  let messagesReceived = 0;
  let closeCode: number | null = null;
  let closeReason = '';
  let openError: string | undefined;

  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => {
      closeCode = code;
      closeReason = reason.toString('utf8');
      session.abort(new Error('stream closed'));
      resolve();
    });
  });
  ws.on('error', (err) => {
    openError ??= err.message;
    opts.log?.debug({ err: err.message }, 'sim stream socket error');
  });
  ws.on('message', (data, isBinary) => {
    messagesReceived++;
    if (isBinary) return protocolError('binary frame (Twilio expects JSON text)');
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      return protocolError('message is not JSON');
    }
    const parsed = outboundMessage.safeParse(json);
    if (!parsed.success)
      return protocolError(`invalid message: ${parsed.error.issues[0]?.message ?? ''}`);
    const msg = parsed.data;
    if (msg.streamSid !== streamSid)
      return protocolError(`${msg.event} for unknown streamSid ${msg.streamSid}`);
    if (msg.event === 'media') {
      framesReceived++;
      playback.enqueueAudio(decodeMulaw(Buffer.from(msg.media.payload, 'base64')));
    } else if (msg.event === 'mark') playback.enqueueMark(msg.mark.name);
    else playback.clear();
  });

  // An abort during the handshake must not leave the socket connecting.
  session.signal.addEventListener(
    'abort',
    () => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    },
    { once: true },
  );
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    void closed.then(() => resolve(false));
  });

  const emptySender: MediaSenderStats = {
    framesSent: 0,
    framesLost: 0,
    dtmfSent: 0,
    completed: false,
  };
  if (!opened) {
    signal.removeEventListener('abort', onOuterAbort);
    return {
      end: signal.aborted ? 'aborted' : 'open-failed',
      connectUrl,
      startedAtMs: null,
      durationMs: 0,
      closeCode,
      closeReason,
      openError: openError ?? `closed during handshake (${closeCode})`,
      sender: emptySender,
      framesReceived,
      messagesReceived,
      protocolErrors,
      protocolErrorCount,
      playback,
    };
  }

  const startedAtMs = clock.now();
  send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: sequence.next(),
      streamSid,
      start: {
        accountSid: opts.accountSid,
        streamSid,
        callSid: opts.callSid,
        tracks: ['inbound'],
        customParameters: opts.target.parameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    }),
  );

  const playing = runPlaybackClock(playback, clock, startedAtMs, session.signal);
  let end = 'server-closed' as StreamEnd;
  const hangup =
    opts.hangupAtMs === undefined
      ? undefined
      : clock.sleepUntil(startedAtMs + opts.hangupAtMs, session.signal).then(
          () => {
            end = 'caller-hangup';
            session.abort(new Error('caller hung up'));
          },
          () => undefined,
        );
  const onCallEnded = (): void => {
    if (end !== 'caller-hangup') end = 'call-ended';
    session.abort(new Error('call ended'));
  };
  if (opts.callEnded?.aborted) onCallEnded();
  else opts.callEnded?.addEventListener('abort', onCallEnded, { once: true });
  const sender = await sendMedia(
    {
      streamSid,
      audio: opts.audio,
      tailMs: opts.listenMs,
      sequence,
      send,
      clock,
      startMs: startedAtMs,
      ...(opts.trouble && { trouble: opts.trouble }),
    },
    session.signal,
  );
  if (sender.completed) end = 'caller-done';
  else if (signal.aborted) end = 'aborted';
  else if (end !== 'caller-hangup' && end !== 'call-ended' && closeCode === null) end = 'aborted';
  opts.callEnded?.removeEventListener('abort', onCallEnded);

  const stopAtMs = clock.now();
  if (ws.readyState === WebSocket.OPEN) {
    // The caller's side ends the stream: Twilio sends `stop`, then closes the socket.
    send(
      JSON.stringify({
        event: 'stop',
        streamSid,
        sequenceNumber: sequence.next(),
        stop: { accountSid: opts.accountSid, callSid: opts.callSid },
      }),
    );
    ws.close(1000, end === 'caller-hangup' ? 'caller hung up' : 'call ended');
  }
  session.abort(new Error('stream over'));
  const forceClose = setTimeout(() => ws.terminate(), 2000);
  await closed;
  clearTimeout(forceClose);
  await playing;
  await hangup;
  signal.removeEventListener('abort', onOuterAbort);
  return {
    end,
    connectUrl,
    startedAtMs,
    durationMs: Math.round(stopAtMs - startedAtMs),
    closeCode,
    closeReason,
    sender,
    framesReceived,
    messagesReceived,
    protocolErrors,
    protocolErrorCount,
    playback,
  };
}
