import type { Logger } from '../log.js';
import { Call, type EndReason } from './call.js';

/**
 * Every admission settles (its LiveKit and Redis requests time out within seconds); this
 * bound only keeps a bug that forgot to settle one from holding the call's slot forever.
 */
const ADMISSION_SETTLE_MAX_MS = 15_000;

export interface CallRegistryOptions {
  capacity: number;
  /** A call whose stream has not started by then is ended and its slot freed. */
  streamStartTimeoutMs: number;
  /** Teardown that must finish before a slot counts as free (room deletion, metrics). */
  onEnded: (call: Call, reason: EndReason) => Promise<void>;
  /**
   * Asked when a call's stream has not started in time: false when another instance is
   * carrying the call (its stream landed there), so this one lets go instead of ending it.
   */
  isStillOurs?: (call: Call) => Promise<boolean>;
  /** A call was let go to another instance (slot bookkeeping, metrics). */
  onReleased?: (call: Call) => void;
}

export interface AdmitRequest {
  callSid: string;
  from: string;
  to: string;
  room: string;
  log: Logger;
}

/**
 * Every active call of this instance. "Active" is admitted and not yet ended,
 * including calls between the webhook and the stream's start, so capacity holds
 * even while Twilio is still connecting. A call only moves forward through its phases:
 * admitting → admitted → streaming → ending → ended, or out to another instance (moved).
 */
export class CallRegistry {
  private readonly calls = new Map<string, Call>();
  private readonly endings = new Set<Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: CallRegistryOptions) {}

  get active(): number {
    return this.calls.size;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  get(callSid: string): Call | undefined {
    return this.calls.get(callSid);
  }

  all(): Call[] {
    return [...this.calls.values()];
  }

  hasRoom(): boolean {
    return this.calls.size < this.opts.capacity;
  }

  /** Reserves a slot synchronously, before any await, so concurrent webhooks cannot overshoot capacity. */
  admit(req: AdmitRequest): Call {
    if (this.calls.has(req.callSid)) throw new Error(`call ${req.callSid} is already registered`);
    const call = new Call(req.callSid, req.from, req.to, req.room, req.log);
    this.calls.set(call.callSid, call);
    return call;
  }

  /**
   * Admission finished (or an outbound call was answered): starts, or restarts, the clock
   * for Twilio to open the stream; an outbound call waits longer, for the callee to answer.
   * False (and nothing changes) when the call is no longer waiting for its stream: it
   * ended meanwhile, and an ended call never comes back.
   */
  awaitStream(call: Call, timeoutMs = this.opts.streamStartTimeoutMs): boolean {
    if (call.phase !== 'admitting' && call.phase !== 'admitted') return false;
    if (this.calls.get(call.callSid) !== call) return false;
    call.phase = 'admitted';
    this.clearTimer(call.callSid);
    const timer = setTimeout(() => void this.streamTimedOut(call, timeoutMs), timeoutMs);
    timer.unref();
    this.timers.set(call.callSid, timer);
    return true;
  }

  /**
   * Files an outbound call, admitted under its own reference, under the CallSid Twilio
   * gave it. Does nothing for a call that has ended meanwhile.
   */
  rename(call: Call, callSid: string, log: Logger): void {
    if (call.callSid === callSid || this.calls.get(call.callSid) !== call) return;
    const timer = this.timers.get(call.callSid);
    this.calls.delete(call.callSid);
    this.timers.delete(call.callSid);
    call.callSid = callSid;
    call.log = log;
    this.calls.set(callSid, call);
    if (timer) this.timers.set(callSid, timer);
  }

  /** The call's stream started here. False when the call is past waiting for one. */
  streamStarted(call: Call, streamSid: string): boolean {
    if (call.phase !== 'admitting' && call.phase !== 'admitted') return false;
    if (this.calls.get(call.callSid) !== call) return false;
    this.clearTimer(call.callSid);
    call.phase = 'streaming';
    call.streamSid = streamSid;
    return true;
  }

  /**
   * Lets go of a call another instance has taken over: its slot here is freed, but
   * nothing is torn down, because the call lives on there. Only before its stream started
   * here; returns whether it let go.
   */
  release(call: Call): boolean {
    if (call.phase !== 'admitting' && call.phase !== 'admitted') return false;
    if (this.calls.get(call.callSid) !== call) return false;
    this.clearTimer(call.callSid);
    call.phase = 'moved';
    this.calls.delete(call.callSid);
    this.opts.onReleased?.(call);
    return true;
  }

  /**
   * Ends a call once: aborts its signal, waits for an admission still in flight (so a
   * room it is creating is not created after the room was deleted), runs teardown, then
   * frees the slot.
   */
  end(call: Call, reason: EndReason): Promise<void> {
    if (call.ended) return call.ending ?? Promise.resolve();
    if (call.phase === 'moved') return Promise.resolve();
    call.phase = 'ending';
    call.endReason = call.intendedEndReason ?? reason;
    this.clearTimer(call.callSid);
    call.abort.abort(reason);
    const ending = (async () => {
      try {
        await settledWithin(call.admission, ADMISSION_SETTLE_MAX_MS);
        await call.runTeardowns();
        await this.opts.onEnded(call, reason);
      } catch (err) {
        call.log.error({ err }, 'Call teardown failed');
      } finally {
        call.phase = 'ended';
        if (this.calls.get(call.callSid) === call) this.calls.delete(call.callSid);
      }
    })();
    call.ending = ending;
    this.endings.add(ending);
    void ending.finally(() => this.endings.delete(ending));
    return ending;
  }

  /** Ends every call, for shutdown. */
  async endAll(reason: EndReason): Promise<void> {
    await Promise.all(this.all().map((c) => this.end(c, reason)));
    await this.settled();
  }

  /** Resolves when every teardown in flight has finished. */
  async settled(): Promise<void> {
    while (this.endings.size > 0) await Promise.allSettled([...this.endings]);
  }

  private async streamTimedOut(call: Call, timeoutMs: number): Promise<void> {
    this.timers.delete(call.callSid);
    if (call.phase !== 'admitted') return;
    // When the question cannot be answered, the call is ours: ending it frees the slot.
    const ours = this.opts.isStillOurs ? await this.opts.isStillOurs(call).catch(() => true) : true;
    if (call.phase !== 'admitted') return;
    if (!ours) {
      call.log.info('Stream started on another instance; letting the call go');
      this.release(call);
      return;
    }
    call.log.warn({ timeoutMs }, 'Media stream never started; freeing the call slot');
    await this.end(call, 'stream_timeout');
  }

  private clearTimer(callSid: string): void {
    const t = this.timers.get(callSid);
    if (t) clearTimeout(t);
    this.timers.delete(callSid);
  }
}

function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
