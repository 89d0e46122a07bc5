import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { realClock, type Clock } from './clock.js';
import { twilioSid } from './ids.js';
import type { TroubleOptions } from './media-sender.js';
import { PLAYBACK_PHASE_MS } from './playback.js';
import { burstOnsetsMs, detectOnsetsMs, roundTripDelaysMs } from './probe.js';
import type { CallEnd, CallReport, StreamReport } from './report.js';
import { signFormPost, joinUrl } from './signing.js';
import { loadSource, type AudioSourceSpec } from './sources.js';
import { runStreamSession, type StreamSessionResult } from './stream-session.js';
import { turnLatencies, underruns, utterances } from './timeline.js';
import { describeVerb, parseTwiml, type TwimlVerb } from './twiml.js';
import { writeWavFile } from '../audio/wav.js';

export interface CallOptions {
  /** Where phonebridge physically listens, e.g. http://127.0.0.1:8000. */
  url: string;
  /** The base URL Twilio would have signed (PUBLIC_URL); defaults to `url`. */
  publicUrl?: string;
  authToken: string;
  /** What the caller says; silence follows it for `listenMs`. */
  source: AudioSourceSpec;
  /** Silence frames kept flowing after the source ends, while listening. Default 5000. */
  listenMs?: number;
  /** Hang up this many ms after the stream started, mid-whatever. */
  hangupAtMs?: number;
  trouble?: TroubleOptions;
  from?: string;
  to?: string;
  accountSid?: string;
  callSid?: string;
  /** Write what the caller heard (8 kHz mono PCM16 WAV, playback clock) here. */
  outPath?: string;
  /** POST /call-status at the end (as Twilio does when the number has a status URL). Default true. */
  statusCallback?: boolean;
  /** Twilio gives up on a webhook after 15 s. */
  webhookTimeoutMs?: number;
  openTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** The fields Twilio posts on an inbound call's voice webhook. */
function webhookParams(
  callSid: string,
  accountSid: string,
  from: string,
  to: string,
): Record<string, string> {
  return {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Called: to,
    CalledCountry: 'US',
    Caller: from,
    CallerCountry: 'US',
    Direction: 'inbound',
    From: from,
    FromCountry: 'US',
    To: to,
    ToCountry: 'US',
  };
}

async function postForm(
  physicalUrl: string,
  signedUrl: string,
  authToken: string,
  params: Record<string, string>,
  signal: AbortSignal,
): Promise<{ status: number; body: string; contentType: string }> {
  const res = await fetch(physicalUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
      'X-Twilio-Signature': signFormPost(authToken, signedUrl, params),
      'User-Agent': 'TwilioProxy/1.1',
      Accept: '*/*',
    },
    body: new URLSearchParams(params).toString(),
    signal,
  });
  return {
    status: res.status,
    body: await res.text(),
    contentType: res.headers.get('content-type') ?? '',
  };
}

function streamReport(
  r: StreamSessionResult,
  url: string,
  streamSid: string,
  params: Record<string, string>,
  callStartMs: number,
  audio: Int16Array,
  source: AudioSourceSpec,
): StreamReport {
  const heard = r.playback.heard();
  // Heard audio is on the playback clock; shift it onto stream time.
  const shift = <T extends { startMs: number; endMs: number }>(x: T): T => ({
    ...x,
    startMs: x.startMs + PLAYBACK_PHASE_MS,
    endMs: x.endMs + PLAYBACK_PHASE_MS,
  });
  const agent = utterances(heard, 300).map(shift);
  // Caller turns: speech separated by 600 ms or more of silence (pauses inside a
  // sentence are shorter); only turns that were actually sent before the stream ended.
  const caller = utterances(audio, 600).filter((t) => t.endMs <= r.durationMs);
  const gaps = underruns(r.playback.supplied()).map((g) => ({
    ...g,
    atMs: g.atMs + PLAYBACK_PHASE_MS,
  }));
  let roundTripMs: number[] = [];
  if (source.kind === 'bursts') {
    const periodMs = source.periodMs ?? 1000;
    roundTripMs = roundTripDelaysMs(burstOnsetsMs(source), detectOnsetsMs(heard), periodMs).map(
      Math.round,
    );
  }
  const st = r.playback.stats;
  return {
    url,
    connectUrl: r.connectUrl,
    streamSid,
    customParameters: params,
    timeToStreamStartMs: r.startedAtMs === null ? null : Math.round(r.startedAtMs - callStartMs),
    timeToFirstAgentAudioMs: agent[0] ? Math.round(agent[0].startMs) : null,
    turns: turnLatencies(caller, agent),
    roundTripMs,
    underruns: { count: gaps.length, totalMs: gaps.reduce((n, g) => n + g.gapMs, 0), events: gaps },
    marks: { received: st.marksReceived, played: st.marksPlayed, cleared: st.marksCleared },
    clears: st.clears,
    frames: {
      sent: r.sender.framesSent,
      lost: r.sender.framesLost,
      received: r.framesReceived,
      dtmfSent: r.sender.dtmfSent,
    },
    heardMs: heard.length / 8,
    agentSpeechMs: Math.round(agent.reduce((n, a) => n + a.endMs - a.startMs, 0)),
    durationMs: r.durationMs,
    end: r.end,
    closeCode: r.closeCode,
    closeReason: r.closeReason,
    ...(r.openError !== undefined && { openError: r.openError }),
    protocolErrors: r.protocolErrors,
    protocolErrorCount: r.protocolErrorCount,
  };
}

/** Close codes that end a stream without anything having gone wrong. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);

/**
 * Places one simulated inbound call the way Twilio would: signed webhook, TwiML followed
 * verb by verb, a bidirectional Media Stream for `<Connect><Stream>`, and a signed
 * status callback at the end. Never throws for call failures: they are in the report.
 */
export async function simulateCall(options: CallOptions, signal: AbortSignal): Promise<CallReport> {
  const clock = options.clock ?? realClock;
  const publicUrl = options.publicUrl ?? options.url;
  const callSid = options.callSid ?? twilioSid('CA');
  const accountSid = options.accountSid ?? twilioSid('AC');
  const from = options.from ?? '+15555550100';
  const to = options.to ?? '+15555550199';
  const log = options.log?.child({ callSid });
  const params = webhookParams(callSid, accountSid, from, to);
  const report: CallReport = {
    callSid,
    accountSid,
    from,
    to,
    webhook: { status: null, ms: null },
    twiml: [],
    said: [],
    notes: [],
    stream: null,
    end: 'aborted',
    rejected: false,
    ok: false,
    errors: [],
    statusCallback: null,
    durationSeconds: 0,
  };

  // Render the caller's audio before dialling, so TTS time does not count as latency.
  const audio = await loadSource(options.source, signal);

  const callStartMs = clock.now();
  let answeredAtMs: number | null = null;
  let verbs: TwimlVerb[] = [];
  try {
    const res = await postForm(
      joinUrl(options.url, '/incoming-call'),
      joinUrl(publicUrl, '/incoming-call'),
      options.authToken,
      params,
      AbortSignal.any([signal, AbortSignal.timeout(options.webhookTimeoutMs ?? 15_000)]),
    );
    report.webhook = { status: res.status, ms: Math.round(clock.now() - callStartMs) };
    if (res.status < 200 || res.status >= 300)
      throw new Error(`webhook answered HTTP ${res.status}`);
    verbs = parseTwiml(res.body);
    report.twiml = verbs.map(describeVerb);
  } catch (err) {
    if (signal.aborted) report.end = 'aborted';
    else {
      // Twilio: "We are sorry, an application error has occurred. Goodbye."
      report.end = 'application-error';
      report.webhook.error ??= describeError(err);
      report.errors.push(`webhook: ${describeError(err)}`);
    }
    verbs = [];
  }

  let end: CallEnd | undefined =
    report.end === 'application-error' ? 'application-error' : undefined;
  let sawStream = false;
  for (const [i, verb] of verbs.entries()) {
    if (signal.aborted) {
      end = 'aborted';
      break;
    }
    if (verb.verb === 'Reject') {
      if (i === 0) {
        end = 'rejected';
        report.rejected = true;
      } else end = 'twiml-hangup'; // after answering, <Reject> just hangs up
      break;
    }
    answeredAtMs ??= clock.now();
    if (verb.verb === 'Say') report.said.push(verb.text);
    else if (verb.verb === 'Hangup') {
      end = 'twiml-hangup';
      break;
    } else if (verb.verb === 'Dial') {
      if (verb.sip.length) {
        end = 'sip-transfer';
        report.notes.push(
          `call handed to SIP ${verb.sip.join(', ')}; audio no longer passes through phonebridge`,
        );
      } else {
        end = 'twiml-end';
        report.notes.push(`<Dial> to ${verb.numbers.join(', ')} not followed by the simulator`);
      }
      break;
    } else if (verb.verb === 'Redirect') {
      report.notes.push(`<Redirect> to ${verb.url} not followed by the simulator`);
      end = 'twiml-end';
      break;
    } else if (verb.verb === 'Connect') {
      if (!verb.stream) {
        report.notes.push(
          `<Connect> with ${verb.nouns.join(', ') || 'nothing'} not followed by the simulator`,
        );
        continue;
      }
      sawStream = true;
      const url = verb.stream.url;
      if (!/^wss:\/\//.test(url) || url.includes('?')) {
        // Twilio only opens wss:// streams, and drops query strings; either is a server bug.
        report.errors.push(`<Stream url="${url}"> must be wss:// without a query string`);
        end = 'stream-failed';
        break;
      }
      const streamSid = twilioSid('MZ');
      const r = await runStreamSession(
        {
          target: verb.stream,
          connectBaseUrl: options.url,
          publicBaseUrl: publicUrl,
          authToken: options.authToken,
          accountSid,
          callSid,
          streamSid,
          audio,
          listenMs: options.listenMs ?? 5000,
          ...(options.hangupAtMs !== undefined && { hangupAtMs: options.hangupAtMs }),
          ...(options.trouble && { trouble: options.trouble }),
          clock,
          openTimeoutMs: options.openTimeoutMs ?? 10_000,
          ...(log && { log }),
        },
        signal,
      );
      report.stream = streamReport(
        r,
        url,
        streamSid,
        verb.stream.parameters,
        callStartMs,
        audio,
        options.source,
      );
      if (options.outPath) await writeWavFile(options.outPath, r.playback.heard());
      if (r.protocolErrorCount)
        report.errors.push(`${r.protocolErrorCount} stream protocol errors`);
      if (r.end === 'open-failed') {
        report.errors.push(`stream did not open: ${r.openError ?? 'unknown'}`);
        end = 'stream-failed';
        // Twilio moves on to the verbs after </Connect> when the stream fails.
        continue;
      }
      if (r.end === 'server-closed') {
        if (r.closeCode !== null && !CLEAN_CLOSE.has(r.closeCode))
          report.errors.push(
            `server closed the stream with ${r.closeCode} ${r.closeReason}`.trim(),
          );
        end = 'server-closed';
        if (verb.action)
          report.notes.push(`<Connect action="${verb.action}"> not requested by the simulator`);
        continue; // Twilio goes on with the TwiML after </Connect>
      }
      end = r.end;
      break;
    } else if (verb.verb === 'Other')
      report.notes.push(`<${verb.name}> not supported by the simulator; skipped`);
  }
  end ??= 'twiml-end';
  // Turned away without a stream: <Say>…</Say><Hangup/> is how a busy server says no.
  if (!sawStream && (end === 'twiml-hangup' || end === 'twiml-end') && report.said.length)
    report.rejected = true;
  report.end = end;

  const endMs = clock.now();
  report.durationSeconds = answeredAtMs === null ? 0 : Math.round((endMs - answeredAtMs) / 1000);
  if (options.statusCallback ?? true) {
    const callStatus =
      end === 'rejected'
        ? verbs[0]?.verb === 'Reject' && verbs[0].reason === 'busy'
          ? 'busy'
          : 'no-answer'
        : answeredAtMs === null
          ? 'failed'
          : 'completed';
    report.statusCallback = { callStatus, status: null };
    try {
      const res = await postForm(
        joinUrl(options.url, '/call-status'),
        joinUrl(publicUrl, '/call-status'),
        options.authToken,
        {
          ...params,
          CallStatus: callStatus,
          CallDuration: String(report.durationSeconds),
          Duration: String(Math.ceil(report.durationSeconds / 60)),
          Timestamp: new Date().toUTCString(),
          CallbackSource: 'call-progress-events',
          SequenceNumber: '0',
        },
        // Sent even after an abort: the server must hear that the call is over.
        AbortSignal.timeout(5000),
      );
      report.statusCallback.status = res.status;
      if (res.status < 200 || res.status >= 300)
        report.errors.push(`status callback answered HTTP ${res.status}`);
    } catch (err) {
      report.statusCallback.error = describeError(err);
      report.errors.push(`status callback: ${describeError(err)}`);
    }
  }
  report.ok = report.errors.length === 0 && end !== 'aborted' && (sawStream || report.rejected);
  log?.info({ end, ok: report.ok }, 'simulated call finished');
  return report;
}
