/**
 * Twilio's per-stream `sequenceNumber`: every message Twilio sends after `connected`
 * (start, media, dtmf, mark echoes, stop) takes the next one, from "1", as a string.
 */
export class StreamSequence {
  #last = 0;
  /** The next sequence number, as the decimal string Twilio sends. */
  next(): string {
    this.#last += 1;
    return String(this.#last);
  }
  /** How many numbers have been handed out. */
  get count(): number {
    return this.#last;
  }
}
