import type { TurnLatency, Underrun } from './timeline.js';

/** How the call ended, as the caller experienced it. */
export type CallEnd =
  | 'caller-done' // the caller finished talking and listening, then hung up
  | 'caller-hangup' // the caller hung up mid-call (--hangup-at)
  | 'call-ended' // the call ended on Twilio's side (a REST hang-up or redirect)
  | 'server-closed' // phonebridge closed the stream; TwiML after </Connect> then ran out
  | 'twiml-hangup' // <Hangup/>
  | 'twiml-end' // the TwiML document ran out without a stream
  | 'rejected' // <Reject>
  | 'sip-transfer' // <Dial><Sip>: the call left for LiveKit SIP, which the simulator cannot follow
  | 'application-error' // webhook failed or TwiML unusable: Twilio says "an application error has occurred"
  | 'stream-failed' // the Media Stream could not be opened
  | 'aborted';

export interface StreamReport {
  /** The TwiML's wss URL (what was signed) and where we actually connected. */
  url: string;
  connectUrl: string;
  streamSid: string;
  customParameters: Record<string, string>;
  /** Webhook sent → stream started (`start` sent), ms. */
  timeToStreamStartMs: number | null;
  /** Stream start → first audible agent sample on the playback clock, ms. */
  timeToFirstAgentAudioMs: number | null;
  turns: TurnLatency[];
  /** Round-trip delays of the burst probe (loopback agents), ms. */
  roundTripMs: number[];
  underruns: { count: number; totalMs: number; events: Underrun[] };
  marks: { received: number; played: number; cleared: number };
  clears: number;
  frames: { sent: number; lost: number; received: number; dtmfSent: number };
  heardMs: number;
  agentSpeechMs: number;
  durationMs: number;
  end: string;
  closeCode: number | null;
  closeReason: string;
  openError?: string;
  protocolErrors: string[];
  protocolErrorCount: number;
}

export interface CallReport {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
  webhook: { status: number | null; ms: number | null; error?: string };
  /** The TwiML verbs in document order, described. */
  twiml: string[];
  /** What the caller heard from `<Say>`, in order. */
  said: string[];
  /** Notes on TwiML the simulator saw but could not follow (action URLs, Redirect, …). */
  notes: string[];
  stream: StreamReport | null;
  end: CallEnd;
  /** True when the call was turned away on purpose (<Reject>, or <Say>+<Hangup> without a stream). */
  rejected: boolean;
  /** False when anything went wrong: application error, stream failure, abnormal close, protocol errors. */
  ok: boolean;
  errors: string[];
  statusCallback: { callStatus: string; status: number | null; error?: string } | null;
  durationSeconds: number;
}

const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);

/** The call report as aligned text for a terminal. */
export function formatCallReport(r: CallReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`  ${k.padEnd(22)} ${v}`);
  lines.push(`Call ${r.callSid}  ${r.ok ? 'OK' : 'FAILED'}${r.rejected ? ' (rejected)' : ''}`);
  row(
    'webhook',
    r.webhook.status === null
      ? `error: ${r.webhook.error ?? '?'}`
      : `HTTP ${r.webhook.status} in ${ms(r.webhook.ms)}`,
  );
  row('TwiML', r.twiml.join(' → ') || '-');
  for (const s of r.said) row('caller heard (Say)', `"${s}"`);
  const s = r.stream;
  if (s) {
    row('stream', `${s.url} (connected to ${s.connectUrl})`);
    row('time to stream start', ms(s.timeToStreamStartMs));
    row('time to agent audio', ms(s.timeToFirstAgentAudioMs));
    s.turns.forEach((t, i) =>
      row(
        `turn ${i + 1} latency`,
        t.latencyMs !== null
          ? ms(t.latencyMs)
          : t.overlapped
            ? 'agent was already talking'
            : 'no answer',
      ),
    );
    if (s.roundTripMs.length) {
      const sorted = [...s.roundTripMs].sort((a, b) => a - b);
      row(
        'round trip',
        `${sorted.length} probes, median ${ms(sorted[Math.floor(sorted.length / 2)] ?? null)}`,
      );
    }
    row('underruns heard', `${s.underruns.count} (${Math.round(s.underruns.totalMs)} ms)`);
    row(
      'marks',
      `${s.marks.received} received, ${s.marks.played} played, ${s.marks.cleared} cleared`,
    );
    row('clears', String(s.clears));
    row(
      'frames',
      `${s.frames.sent} sent (${s.frames.lost} lost), ${s.frames.received} received, ${s.frames.dtmfSent} DTMF`,
    );
    row('agent speech heard', `${ms(s.agentSpeechMs)} of ${ms(s.heardMs)}`);
    const close =
      s.closeCode === null
        ? (s.openError ?? 'not closed')
        : `code ${s.closeCode}${s.closeReason ? ` "${s.closeReason}"` : ''}`;
    row('stream ended', `${s.end} (${close})`);
    if (s.protocolErrorCount)
      row('protocol errors', `${s.protocolErrorCount}: ${s.protocolErrors.join('; ')}`);
  }
  for (const n of r.notes) row('note', n);
  row('call ended', `${r.end} after ${r.durationSeconds} s`);
  if (r.statusCallback)
    row(
      'status callback',
      `${r.statusCallback.callStatus} → ${r.statusCallback.status === null ? `error: ${r.statusCallback.error ?? '?'}` : `HTTP ${r.statusCallback.status}`}`,
    );
  for (const e of r.errors) row('error', e);
  return lines.join('\n');
}
