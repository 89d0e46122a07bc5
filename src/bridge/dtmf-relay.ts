import type { Logger } from '../log.js';

/** More digits than anyone types while a call connects; beyond this they are dropped. */
const MAX_PENDING = 32;

/**
 * Caller DTMF towards the room. Digits pressed before the room can carry them are held
 * in order (bounded) and sent once it can: data published in the first moments after
 * joining did not reach the agent (two digits sent right after publishing were lost in
 * every run; after the first agent audio frame none was), so the relay opens at the first
 * agent audio frame, or a settle time after publishing when the agent has no audio.
 */
export class DtmfRelay {
  private pending: string[] = [];
  private open = false;
  private timer?: NodeJS.Timeout;
  received = 0;

  constructor(
    private readonly publish: (digit: string) => void,
    private readonly log: Logger,
  ) {}

  onDigit(digit: string): void {
    this.received++;
    // Digits can be PINs: the value is logged at debug level only.
    this.log.info('DTMF digit received from caller');
    this.log.debug({ digit }, 'DTMF digit');
    if (this.open) this.publish(digit);
    else if (this.pending.length < MAX_PENDING) this.pending.push(digit);
  }

  /** The room is up: open after settleMs unless the agent's audio opens it first. */
  armAfter(settleMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.openNow(), settleMs);
  }

  openNow(): void {
    if (this.open) return;
    this.open = true;
    clearTimeout(this.timer);
    for (const digit of this.pending.splice(0)) this.publish(digit);
  }

  close(): void {
    clearTimeout(this.timer);
    this.pending = [];
  }
}
