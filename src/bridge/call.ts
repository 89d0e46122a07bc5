import type { Logger } from '../log.js';

/**
 * `moved`: another instance took the call over (its stream landed there); this instance
 * let go of it without ending it.
 */
export type CallPhase = 'admitting' | 'admitted' | 'streaming' | 'ending' | 'ended' | 'moved';

/** Why a call ended: a label for logs and the `phonebridge_calls_ended_total` metric. */
export type EndReason =
  | 'caller_hangup'
  | 'stream_stop'
  | 'socket_closed'
  | 'status_callback'
  | 'stream_timeout'
  | 'agent_timeout'
  | 'agent_left'
  | 'room_deleted'
  | 'reconnect_timeout'
  | 'protocol_error'
  | 'admission_failed'
  | 'transferred'
  | 'api_hangup'
  | 'shutdown'
  | 'engine_failed'
  | 'error';

/**
 * One admitted phone call. Its AbortController is the call's one lifeline: the
 * bridge, timers and LiveKit resources all hang their teardown on `signal`.
 */
export class Call {
  readonly abort = new AbortController();
  readonly admittedAt = Date.now();
  phase: CallPhase = 'admitting';
  endReason?: EndReason;
  /**
   * Why the bridge is ending the call, set before it asks Twilio to hang up: Twilio then
   * stops the stream, and the call must end for the bridge's reason, not "stream stopped".
   */
  intendedEndReason?: EndReason;
  /** The TwiML answer, replayed verbatim when Twilio retries the webhook. */
  twiml?: string;
  streamSid?: string;
  /** Set once the call starts ending: its teardown, awaited by anyone who ends it again. */
  ending?: Promise<void>;
  /** Resolves once admission finished (room made, agent dispatched) or failed. */
  readonly admission: Promise<void>;
  private settleAdmission!: () => void;

  /** `outbound` for calls placed through the API, which learn their CallSid after admission. */
  direction: 'inbound' | 'outbound' = 'inbound';
  /** The AMD verdict (outbound calls): kept so a bridge that starts after it still gets it. */
  answeredBy?: string;
  private answeredByListener?: (answeredBy: string) => void;

  constructor(
    /** Twilio's CallSid; an outbound call is admitted under its own reference until Twilio names it. */
    public callSid: string,
    readonly from: string,
    readonly to: string,
    readonly room: string,
    public log: Logger,
  ) {
    this.admission = new Promise<void>((resolve) => {
      this.settleAdmission = resolve;
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get ended(): boolean {
    return this.phase === 'ending' || this.phase === 'ended';
  }

  private readonly teardowns: (() => Promise<void>)[] = [];

  /** Registers work that must finish before the call's slot is freed (closing tracks, the room). */
  onTeardown(fn: () => Promise<void>): void {
    this.teardowns.push(fn);
  }

  /** Runs every teardown, most recent first, each once; failures are logged, not thrown. */
  async runTeardowns(): Promise<void> {
    const fns = this.teardowns.splice(0).reverse();
    for (const fn of fns) {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'Teardown step failed');
      }
    }
  }

  /** Records the AMD verdict and hands it to the bridge's listener, if one is registered. */
  setAnsweredBy(answeredBy: string): void {
    this.answeredBy = answeredBy;
    this.answeredByListener?.(answeredBy);
  }

  /** The bridge's way to hear verdicts: one listener, called at once for a verdict already in. */
  onAnsweredBy(fn: (answeredBy: string) => void): void {
    this.answeredByListener = fn;
    if (this.answeredBy !== undefined) fn(this.answeredBy);
  }

  admissionDone(): void {
    this.settleAdmission();
  }

  durationMs(): number {
    return Date.now() - this.admittedAt;
  }
}
