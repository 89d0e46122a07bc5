import type { Logger } from '../log.js';
import { realClock } from './clock.js';
import { calleeScript, type CalleeScenario, type CalleeScript } from './callee.js';
import type { CallResourceState } from './call-resource.js';
import { StatusCallbacks, type SignedPoster } from './callbacks.js';
import { twilioSid } from './ids.js';
import { runStreamSession, type StreamSessionResult } from './stream-session.js';
import { describeVerb, parseTwiml, type TwimlVerb } from './twiml.js';

/** The create request's parameters that shape the call (form fields of Calls.json). */
export interface CreateCallParams {
  to: string;
  from: string;
  url: string;
  statusCallback?: string;
  statusCallbackEvents: ReadonlySet<string>;
  machineDetection?: string;
  asyncAmd: boolean;
  asyncAmdStatusCallback?: string;
  timeoutSeconds: number;
}

/** How one emulated outbound call went, from Twilio's and the callee's side. */
export interface OutboundCallReport {
  callSid: string;
  scenario: CalleeScenario['kind'];
  status: string;
  /** Status callbacks sent, in order: `initiated`, `ringing`, `in-progress`, `completed`… */
  statuses: string[];
  answeredBy?: string;
  /** When the AMD verdict was sent, in ms after the callee picked up (the stream's start). */
  verdictAtMs?: number;
  /** The AMD callback's HTTP answer, when one was sent. */
  amdCallbackStatus?: number | null;
  twiml: string[];
  said: string[];
  stream: Pick<StreamSessionResult, 'end' | 'closeCode' | 'closeReason' | 'durationMs'> | null;
  /** What the callee heard from the stream's start (8 kHz PCM16, playback clock). */
  heard: Int16Array;
  /** voicemail: what the machine recorded after its beep. */
  recording?: Int16Array;
  /** REST updates received for the call (Status, Twiml, Url), in order. */
  updates: Record<string, string>[];
  durationSeconds: number;
  notes: string[];
  errors: string[];
}

export type UpdateResult =
  { ok: true } | { ok: false; status: number; code: number; message: string };

/**
 * Twilio's side of one outbound call the REST API created: status callbacks in order
 * (initiated, ringing, answered as in-progress, completed, or busy / no-answer / canceled
 * as the completed event), the TwiML fetched from `Url` when the callee picks up, a Media
 * Stream for `<Connect><Stream>`, the async AMD verdict, and REST updates (hang-up, redirect).
 */
export class EmulatedOutboundCall {
  readonly state: CallResourceState;
  readonly done: Promise<OutboundCallReport>;
  private readonly ended = new AbortController();
  private redirect?: string;
  private readonly report: OutboundCallReport;

  constructor(
    private readonly params: CreateCallParams,
    accountSid: string,
    private readonly poster: SignedPoster,
    private readonly authToken: string,
    private readonly scenario: CalleeScenario,
    private readonly rewrite: (url: string) => string,
    private readonly log?: Logger,
  ) {
    const now = new Date();
    this.state = {
      sid: twilioSid('CA'),
      accountSid,
      to: params.to,
      from: params.from,
      status: 'queued',
      dateCreated: now,
      dateUpdated: now,
    };
    this.report = {
      callSid: this.state.sid,
      scenario: scenario.kind,
      status: 'queued',
      statuses: [],
      twiml: [],
      said: [],
      stream: null,
      heard: new Int16Array(0),
      updates: [],
      durationSeconds: 0,
      notes: [],
      errors: [],
    };
    // Started on the next turn: Twilio answers the create request before it dials.
    this.done = new Promise<void>((r) => setImmediate(r)).then(() => this.run());
  }

  /** False once the call is over (or being ended). */
  get live(): boolean {
    return !this.ended.signal.aborted;
  }

  /** `POST …/Calls/{Sid}.json`: `Status=completed|canceled` hangs up; `Twiml` redirects. */
  update(p: Record<string, string>): UpdateResult {
    this.report.updates.push(p);
    const live = !this.ended.signal.aborted;
    const answered = this.state.status === 'in-progress';
    if (p.Status === 'completed' || p.Status === 'canceled') {
      // `canceled` only affects calls that are still queued or ringing.
      if (!live || (p.Status === 'canceled' && answered)) return { ok: true };
      this.end(answered ? 'completed' : 'canceled');
      return { ok: true };
    }
    if (p.Twiml !== undefined || p.Url !== undefined) {
      if (!live || !answered)
        return {
          ok: false,
          status: 400,
          code: 21220,
          message: 'Call is not in-progress. Cannot redirect.',
        };
      if (p.Twiml === undefined) this.report.notes.push(`redirect to Url ${p.Url} not followed`);
      this.redirect = p.Twiml;
      this.ended.abort(new Error('redirected'));
      return { ok: true };
    }
    return { ok: true };
  }

  private finalStatus?: string;

  private end(status: string): void {
    this.finalStatus ??= status;
    this.ended.abort(new Error(status));
  }

  private setStatus(status: string): void {
    this.state.status = status;
    this.state.dateUpdated = new Date();
    this.report.status = status;
  }

  private callParams(): Record<string, string> {
    const s = this.state;
    return {
      AccountSid: s.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: s.sid,
      CallStatus: s.status,
      Called: s.to,
      Caller: s.from,
      Direction: 'outbound-api',
      From: s.from,
      To: s.to,
    };
  }

  /** Sleeps `ms`; resolves true early when the call is ended meanwhile. */
  private async wait(ms: number): Promise<boolean> {
    if (this.ended.signal.aborted) return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.ended.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
    return this.ended.signal.aborted;
  }

  private async run(): Promise<OutboundCallReport> {
    const p = this.params;
    const callbacks = new StatusCallbacks(this.poster, p.statusCallback, p.statusCallbackEvents);
    const ring = this.scenario.ringMs ?? 2000;
    const finish = async (status: string): Promise<OutboundCallReport> => {
      this.ended.abort(new Error('call over'));
      this.setStatus(status);
      const start = this.state.startTime;
      this.state.endTime = new Date();
      const seconds = start
        ? Math.round((this.state.endTime.getTime() - start.getTime()) / 1000)
        : 0;
      this.state.durationSeconds = seconds;
      this.report.durationSeconds = seconds;
      callbacks.send('completed', {
        ...this.callParams(),
        CallDuration: String(seconds),
        Duration: String(Math.ceil(seconds / 60)),
        ...(this.state.answeredBy && { AnsweredBy: this.state.answeredBy }),
      });
      await callbacks.flushed();
      this.report.statuses = callbacks.sent.map((c) => c.params.CallStatus ?? '');
      for (const c of callbacks.sent)
        if (c.result.status === null || c.result.status >= 300)
          this.report.errors.push(
            `status callback ${c.event}: ${c.result.error ?? `HTTP ${c.result.status}`}`,
          );
      this.log?.info({ callSid: this.state.sid, status }, 'emulated outbound call finished');
      return this.report;
    };

    if (await this.wait(50)) return finish(this.finalStatus ?? 'canceled');
    this.setStatus('initiated');
    callbacks.send('initiated', this.callParams());
    if (await this.wait(100)) return finish(this.finalStatus ?? 'canceled');
    this.setStatus('ringing');
    callbacks.send('ringing', this.callParams());
    const kind = this.scenario.kind;
    if (kind === 'busy') return (await this.wait(ring)) ? finish('canceled') : finish('busy');
    if (kind === 'no-answer')
      return (await this.wait(p.timeoutSeconds * 1000)) ? finish('canceled') : finish('no-answer');
    const ringOut = p.timeoutSeconds * 1000;
    if (this.scenario.pickUp) {
      const picked = await Promise.race([
        this.scenario.pickUp.then(() => true),
        this.wait(ringOut).then(() => false),
      ]);
      if (this.ended.signal.aborted) return finish('canceled');
      if (!picked) return finish('no-answer');
    } else if (await this.wait(Math.min(ring, ringOut))) return finish('canceled');

    // Picked up.
    this.setStatus('in-progress');
    this.state.startTime = new Date();
    callbacks.send('answered', this.callParams());
    const script = await calleeScript(this.scenario);
    const res = await this.poster.post(p.url, this.callParams());
    let verbs: TwimlVerb[] = [];
    try {
      if (res.status === null || res.status < 200 || res.status >= 300)
        throw new Error(res.error ?? `HTTP ${res.status}`);
      verbs = parseTwiml(res.body);
    } catch (err) {
      // Twilio: "an application error has occurred", then it hangs up.
      this.report.errors.push(`voice webhook: ${(err as Error).message}`);
      return finish('completed');
    }
    await this.follow(verbs, script);
    if (this.redirect !== undefined) {
      try {
        await this.follow(parseTwiml(this.redirect), script);
      } catch (err) {
        this.report.errors.push(`redirect TwiML: ${(err as Error).message}`);
      }
    }
    return finish('completed');
  }

  /** Runs TwiML verbs until one ends the call; a stream is the callee's whole conversation. */
  private async follow(verbs: TwimlVerb[], script: CalleeScript): Promise<void> {
    this.report.twiml.push(...verbs.map(describeVerb));
    for (const verb of verbs) {
      if (this.ended.signal.aborted && this.redirect === undefined) return;
      switch (verb.verb) {
        case 'Say':
          this.report.said.push(verb.text);
          break;
        case 'Hangup':
        case 'Reject':
          return;
        case 'Dial':
          this.report.notes.push(
            `<Dial> to ${[...verb.numbers, ...verb.sip].join(', ')} not followed`,
          );
          return;
        case 'Connect':
          if (!verb.stream) {
            this.report.notes.push('<Connect> without <Stream> not followed');
            break;
          }
          if (this.ended.signal.aborted) return;
          await this.stream(verb.stream, script);
          if (this.ended.signal.aborted) return;
          break;
        default:
          this.report.notes.push(`<${verb.verb}> not followed`);
      }
    }
  }

  private async stream(
    target: NonNullable<Extract<TwimlVerb, { verb: 'Connect' }>['stream']>,
    script: CalleeScript,
  ): Promise<void> {
    const p = this.params;
    const publicBase = new URL(p.url).origin;
    const amd = this.scheduleAmd(script);
    const r = await runStreamSession(
      {
        target,
        connectBaseUrl: this.rewrite(publicBase),
        publicBaseUrl: publicBase,
        authToken: this.authToken,
        accountSid: this.state.accountSid,
        callSid: this.state.sid,
        streamSid: twilioSid('MZ'),
        audio: script.audio,
        listenMs: script.listenMs,
        callEnded: this.ended.signal,
        clock: realClock,
        openTimeoutMs: 10_000,
        ...(this.log && { log: this.log }),
      },
      this.ended.signal.aborted ? AbortSignal.abort() : new AbortController().signal,
    );
    clearTimeout(amd);
    const heard = r.playback.heard();
    this.report.heard = heard;
    this.report.stream = {
      end: r.end,
      closeCode: r.closeCode,
      closeReason: r.closeReason,
      durationMs: r.durationMs,
    };
    if (r.end === 'open-failed')
      this.report.errors.push(`stream did not open: ${r.openError ?? '?'}`);
    if (script.recordFromMs !== undefined)
      this.report.recording = heard.subarray(Math.round((script.recordFromMs * 8000) / 1000));
    // The callee hung up (or the machine stopped recording): the call is over.
    if (r.end === 'caller-done') this.end('completed');
  }

  /** Posts the async AMD verdict at its time, unless the call ended first. */
  private scheduleAmd(script: CalleeScript): NodeJS.Timeout | undefined {
    const p = this.params;
    if (!p.machineDetection) return undefined;
    if (!p.asyncAmd || !p.asyncAmdStatusCallback) {
      this.report.notes.push(
        'AMD without AsyncAmd/AsyncAmdStatusCallback is not emulated (Twilio warns 21262)',
      );
      return undefined;
    }
    const url = p.asyncAmdStatusCallback;
    return setTimeout(() => {
      if (this.ended.signal.aborted) return;
      const { answeredBy, atMs } = script.verdict;
      this.state.answeredBy = answeredBy;
      this.report.answeredBy = answeredBy;
      this.report.verdictAtMs = atMs;
      void this.poster
        .post(url, {
          AccountSid: this.state.accountSid,
          AnsweredBy: answeredBy,
          CallSid: this.state.sid,
          MachineDetectionDuration: String(atMs),
        })
        .then((res) => {
          this.report.amdCallbackStatus = res.status;
          if (res.status === null || res.status >= 300)
            this.report.errors.push(`AMD callback: ${res.error ?? `HTTP ${res.status}`}`);
        });
    }, script.verdict.atMs);
  }
}
