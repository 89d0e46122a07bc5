/**
 * Baselines: how the same job is commonly written (Buffer.from per message, alawmulaw,
 * Buffer.concat re-framing). They are the yardstick in the ratios, not strawmen: each is
 * what an integration would plausibly ship first.
 */
import alawmulaw from 'alawmulaw';

// alawmulaw's `main` is a UMD bundle: only its default (CommonJS) export works from ESM.
export const { alaw, mulaw } = alawmulaw;

/** Re-frames μ-law into 160-sample PCM16 frames by concatenating Buffers; no timeline. */
export class NaiveFramer {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (g711: Uint8Array) => void) {}

  push(payload: Uint8Array): void {
    this.#pending = Buffer.concat([this.#pending, payload]);
    while (this.#pending.length >= 160) {
      this.onFrame(Uint8Array.from(this.#pending.subarray(0, 160)));
      this.#pending = this.#pending.subarray(160);
    }
  }
}
