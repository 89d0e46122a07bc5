import type { Codec } from '../audio/g711.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Call, EndReason } from './call.js';
import type { OutboundPacer } from './outbound-pacer.js';
import { loadPrompt } from './prompts.js';

const APOLOGY_MARK = 'pb-apology';

export interface PhoneLegOptions {
  codec: Codec;
  callControl: CallControl;
  pacer: OutboundPacer;
  /** Sends one text message to Twilio. */
  send: (message: string) => void;
  /** Closes the Twilio WebSocket, which makes Twilio run the TwiML after `<Connect>`. */
  closeStream: (code: number, reason: string) => void;
  /** Ends the call for good (registry.end). */
  endCall: (reason: EndReason) => void;
}

/**
 * How the phone side of a call ends: with or without the shipped apology first, then
 * through Twilio's REST API when we can, and always by closing the stream (Twilio then
 * runs the goodbye TwiML after `<Connect>`). The apology needs nothing but the Twilio
 * socket, so a caller hears why even when LiveKit or the media engine is gone.
 */
export class PhoneLeg {
  private endingNow = false;
  private onApologyHeard?: () => void;

  constructor(
    private readonly call: Call,
    private readonly opts: PhoneLegOptions,
  ) {}

  /** True once the phone leg is being ended: agent audio is no longer wanted. */
  get ending(): boolean {
    return this.endingNow || this.call.signal.aborted;
  }

  /** A mark came back; true when it was the apology's. */
  onMark(name: string): boolean {
    if (name !== APOLOGY_MARK) return false;
    this.onApologyHeard?.();
    return true;
  }

  /** Plays the apology, waits until the caller has heard it (its mark), then ends. */
  async apologiseAndEnd(reason: EndReason): Promise<void> {
    if (this.ending) return;
    this.endingNow = true;
    const prompt = loadPrompt('apology', this.opts.codec);
    if (prompt) {
      this.opts.pacer.clear();
      // Sent at once: at the end of a call there is no barge-in to keep responsive.
      for (const f of prompt.frames) this.opts.send(this.opts.pacer.mediaMessage(f));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, prompt.durationMs + 1500);
        this.onApologyHeard = done;
        this.call.signal.addEventListener('abort', done, { once: true });
        this.opts.pacer.mark(APOLOGY_MARK);
      });
    } else {
      this.call.log.warn('No apology prompt found in assets/prompts; ending without it');
    }
    this.endingNow = false;
    await this.end(reason);
  }

  /** Ends the phone leg now. */
  async end(reason: EndReason): Promise<void> {
    if (this.call.signal.aborted) return;
    this.endingNow = true;
    this.call.intendedEndReason = reason;
    const { callControl } = this.opts;
    if (callControl.available) {
      try {
        await callControl.hangup(this.call.callSid);
      } catch (err) {
        this.call.log.warn(
          { err: (err as Error).message },
          'REST hang-up failed; closing the stream instead',
        );
      }
    }
    this.opts.closeStream(1000, reason);
    this.opts.endCall(reason);
  }
}
