import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import {
  decodeAlaw,
  decodeAlawInto,
  decodeInto,
  decodeMulaw,
  decodeMulawInto,
  encodeAlaw,
  encodeAlawInto,
  encodeInto,
  encodeMulaw,
  encodeMulawInto,
} from './g711.js';

// alawmulaw ships a UMD bundle as `main`: only the default (CommonJS) export is reliable in ESM.
const { alaw, mulaw } = alawmulaw;

// ---- Independent references, written from the standard rather than from g711.ts ----

/** μ-law from the G.711 segment formula: bits inverted, |y| = ((2m + 33) << e) - 33 (14-bit). */
function formulaMulaw(code: number): number {
  const c = ~code & 0xff;
  const e = (c >> 4) & 7;
  const m = c & 0x0f;
  const mag = (((2 * m + 33) << e) - 33) * 4;
  return c & 0x80 ? 0 - mag : mag; // 0 - 0 is +0, as a PCM16 sample would be
}

/** A-law from the G.711 segment formula: even bits toggled, sign bit set = positive. */
function formulaAlaw(code: number): number {
  const c = code ^ 0x55;
  const e = (c >> 4) & 7;
  const m = c & 0x0f;
  const mag = (e === 0 ? 2 * m + 1 : (2 * m + 33) << (e - 1)) * 8;
  return c & 0x80 ? mag : -mag;
}

// Faithful ports of ITU-T G.191 g711.c. Like the C code they take the 16-bit
// left-justified sample and drop the unused low bits themselves (>> 2 for μ-law's
// 14 bits, >> 4 for A-law, whose smallest step is two 13-bit units).

function g191UlawCompress(linbuf: number): number {
  let absno = linbuf < 0 ? (~linbuf >> 2) + 33 : (linbuf >> 2) + 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  const highNibble = 0x0008 - segno;
  let lowNibble = (absno >> segno) & 0x000f;
  lowNibble = 0x000f - lowNibble;
  let logbuf = (highNibble << 4) | lowNibble;
  if (linbuf >= 0) logbuf = logbuf | 0x0080;
  return logbuf;
}

function g191AlawCompress(linbuf: number): number {
  let ix = linbuf < 0 ? ~linbuf >> 4 : linbuf >> 4;
  if (ix > 15) {
    let iexp = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      iexp++;
    }
    ix -= 16;
    ix += iexp << 4;
  }
  if (linbuf >= 0) ix |= 0x0080;
  return ix ^ 0x0055;
}

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ALL_SAMPLES = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

describe.each([
  {
    name: 'μ-law',
    decode: decodeMulaw,
    encode: encodeMulaw,
    decodeInto: decodeMulawInto,
    encodeInto: encodeMulawInto,
    formula: formulaMulaw,
    reference: g191UlawCompress,
    lib: mulaw,
    step: 4,
    known: [
      [0xff, 0],
      [0x7f, 0],
      [0x00, -32124],
      [0x80, 32124],
    ],
  },
  {
    name: 'A-law',
    decode: decodeAlaw,
    encode: encodeAlaw,
    decodeInto: decodeAlawInto,
    encodeInto: encodeAlawInto,
    formula: formulaAlaw,
    reference: g191AlawCompress,
    lib: alaw,
    step: 8,
    known: [
      [0xd5, 8],
      [0x55, -8],
      [0x2a, -32256],
      [0xaa, 32256],
    ],
  },
])('$name', (c) => {
  const decoded = c.decode(ALL_CODES);
  const encoded = c.encode(ALL_SAMPLES);

  it('decodes all 256 codes exactly', () => {
    for (let code = 0; code < 256; code++)
      expect(decoded[code], `code ${code}`).toBe(c.formula(code));
    for (const [code, value] of c.known) expect(decoded[code!]).toBe(value);
  });

  it('agrees with alawmulaw on every decoded code', () => {
    expect(Array.from(c.lib.decode(ALL_CODES))).toEqual(Array.from(decoded));
  });

  it('encodes every 16-bit sample exactly as G.191 does', () => {
    let mismatches = 0;
    for (let i = 0; i < ALL_SAMPLES.length; i++)
      if (encoded[i] !== c.reference(ALL_SAMPLES[i]!)) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('never errs by more than one step beyond G.191 (or alawmulaw)', () => {
    const theirs = c.lib.encode(ALL_SAMPLES);
    for (let i = 0; i < ALL_SAMPLES.length; i++) {
      const x = ALL_SAMPLES[i]!;
      const ours = Math.abs(decoded[encoded[i]!]! - x);
      const ref = Math.abs(decoded[c.reference(x)]! - x);
      const lib = Math.abs(decoded[theirs[i]!]! - x);
      if (ours > ref + c.step || ours > lib + c.step)
        expect.fail(`x=${x}: error ${ours}, G.191 ${ref}, alawmulaw ${lib}`);
    }
  });

  it('re-encodes every decoded value to the same code', () => {
    const roundTrip = c.encode(decoded);
    for (let code = 0; code < 256; code++) {
      // μ-law has two zeros (0xFF = +0, 0x7F = -0); G.191 encodes 0 as +0.
      const expected = c.name === 'μ-law' && code === 0x7f ? 0xff : code;
      expect(roundTrip[code], `code ${code}`).toBe(expected);
    }
  });

  it('allocation-free variants equal the allocating ones and honour offsets', () => {
    const pcm = new Int16Array(ALL_SAMPLES.length + 7);
    expect(c.decodeInto(ALL_CODES, pcm, 0, 3)).toBe(256);
    expect(Array.from(pcm.subarray(3, 259))).toEqual(Array.from(decoded));
    expect(pcm[2]).toBe(0);
    expect(pcm[259]).toBe(0);

    const bytes = new Uint8Array(ALL_SAMPLES.length).fill(0xee);
    expect(c.encodeInto(ALL_SAMPLES, bytes, 1000, 5, 300)).toBe(300);
    expect(Array.from(bytes.subarray(5, 305))).toEqual(Array.from(encoded.subarray(1000, 1300)));
    expect(bytes[4]).toBe(0xee);
    expect(bytes[305]).toBe(0xee);

    // Defaults: the rest of src from srcOffset.
    const tail = new Int16Array(6);
    expect(c.decodeInto(ALL_CODES, tail, 250)).toBe(6);
    expect(Array.from(tail)).toEqual(Array.from(decoded.subarray(250)));
  });

  it('rejects ranges that do not fit instead of corrupting silently', () => {
    expect(() => c.decodeInto(ALL_CODES, new Int16Array(10))).toThrow(RangeError);
    expect(() => c.encodeInto(ALL_SAMPLES, new Uint8Array(10), 0, 5, 6)).toThrow(RangeError);
    expect(() => c.decodeInto(ALL_CODES, new Int16Array(10), 255, 0, 2)).toThrow(RangeError);
    expect(() => c.decodeInto(ALL_CODES, new Int16Array(10), -1, 0, 1)).toThrow(RangeError);
    expect(() => c.decodeInto(ALL_CODES, new Int16Array(10), 0.5, 0, 1)).toThrow(RangeError);
  });
});

describe('codec dispatch', () => {
  it('decodeInto/encodeInto pick the right law', () => {
    const pcm = new Int16Array(256);
    decodeInto('alaw', ALL_CODES, pcm);
    expect(Array.from(pcm)).toEqual(Array.from(decodeAlaw(ALL_CODES)));
    decodeInto('mulaw', ALL_CODES, pcm);
    expect(Array.from(pcm)).toEqual(Array.from(decodeMulaw(ALL_CODES)));
    const bytes = new Uint8Array(256);
    encodeInto('alaw', pcm, bytes);
    expect(Array.from(bytes)).toEqual(Array.from(encodeAlaw(pcm)));
    encodeInto('mulaw', pcm, bytes);
    expect(Array.from(bytes)).toEqual(Array.from(encodeMulaw(pcm)));
  });
});
