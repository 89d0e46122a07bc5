import { describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from './mulaw.js';

describe('sim μ-law', () => {
  it('decodes the standard levels and round-trips within one step', () => {
    expect(decodeMulaw(Uint8Array.from([0xff, 0x7f, 0x00, 0x80]))).toEqual(
      Int16Array.from([0, 0, -32124, 32124]),
    );
    const all = new Int16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i - 32768;
    const back = decodeMulaw(encodeMulaw(all));
    for (let i = 0; i < all.length; i += 7) {
      const x = all[i]!;
      const step = Math.max(8, Math.abs(x) / 16);
      expect(Math.abs(back[i]! - x)).toBeLessThanOrEqual(step + 132);
    }
  });
});
