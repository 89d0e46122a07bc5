/**
 * G.711 μ-law and A-law codecs, table-driven, with allocation-free variants for the
 * per-frame hot path (Twilio Media Streams send and expect 8 kHz G.711; LiveKit wants PCM16).
 *
 * Reference: ITU-T G.191 (STL) `g711.c`, functions `ulaw_compress`/`ulaw_expand` and
 * `alaw_compress`/`alaw_expand`. Decoding is unambiguous. Encoding follows G.191 bit for
 * bit, including its tie-breaking at decision boundaries: negative samples are folded with
 * the ones' complement (`~x`, i.e. |x| - 1) rather than negated, so they never overflow at
 * -32768 and round towards zero exactly like the reference. Other encoders (Sun's
 * `linear2ulaw`, the 16-bit bias-132 formulation in `alawmulaw`) differ by one step on a
 * few hundred negative inputs; `g711.test.ts` checks both the exact match and the error
 * bound.
 *
 * The tables are built at module load by running the reference algorithms, so the code
 * that defines the mapping is the readable one and the code that runs per sample is a
 * single lookup.
 */

/** The two G.711 companding laws. */
export type Codec = 'mulaw' | 'alaw';

function ulawExpand(code: number): number {
  const sign = code < 0x80 ? -1 : 1;
  const inv = ~code;
  const exponent = (inv >> 4) & 0x07;
  const mantissa = inv & 0x0f;
  const step = 4 << (exponent + 1);
  // `| 0` turns the -0 of codes 0x7F into 0.
  return (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) | 0;
}

function alawExpand(code: number): number {
  const ix = (code ^ 0x55) & 0x7f;
  const exponent = ix >> 4;
  let mant = ix & 0x0f;
  if (exponent > 0) mant += 16;
  mant = (mant << 4) + 0x08;
  if (exponent > 1) mant <<= exponent - 1;
  return code > 127 ? mant : -mant;
}

function ulawCompress(x: number): number {
  let absno = (x < 0 ? ~x >> 2 : x >> 2) + 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let segno = 1;
  for (let i = absno >> 6; i !== 0; i >>= 1) segno++;
  const code = ((8 - segno) << 4) | (0x0f - ((absno >> segno) & 0x0f));
  return x >= 0 ? code | 0x80 : code;
}

function alawCompress(x: number): number {
  let ix = x < 0 ? ~x >> 4 : x >> 4;
  if (ix > 15) {
    let exponent = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      exponent++;
    }
    ix = ix - 16 + (exponent << 4);
  }
  if (x >= 0) ix |= 0x80;
  return ix ^ 0x55;
}

const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
for (let c = 0; c < 256; c++) {
  MULAW_DECODE[c] = ulawExpand(c);
  ALAW_DECODE[c] = alawExpand(c);
}

// G.191 μ-law looks only at x >> 2 (and ~x >> 2 === ~(x >> 2)), so 14 bits index the whole
// mapping exactly; A-law looks only at x >> 4, so 12 bits do. `& MASK` maps the negative
// half to the upper half of the table. Small tables stay in L1 cache (16 KiB / 4 KiB).
const MULAW_SHIFT = 2;
const MULAW_MASK = 0x3fff;
const ALAW_SHIFT = 4;
const ALAW_MASK = 0x0fff;
const MULAW_ENCODE = new Uint8Array(MULAW_MASK + 1);
const ALAW_ENCODE = new Uint8Array(ALAW_MASK + 1);
for (let x = -32768; x < 32768; x += 1 << MULAW_SHIFT)
  MULAW_ENCODE[(x >> MULAW_SHIFT) & MULAW_MASK] = ulawCompress(x);
for (let x = -32768; x < 32768; x += 1 << ALAW_SHIFT)
  ALAW_ENCODE[(x >> ALAW_SHIFT) & ALAW_MASK] = alawCompress(x);

// One up-front check instead of per-sample bounds: typed arrays silently ignore
// out-of-range writes and read `undefined` (→ 0), which would corrupt audio quietly.
function checkRange(
  srcLength: number,
  dstLength: number,
  srcOffset: number,
  dstOffset: number,
  length: number,
): void {
  if (
    !Number.isInteger(srcOffset) ||
    !Number.isInteger(dstOffset) ||
    !Number.isInteger(length) ||
    srcOffset < 0 ||
    dstOffset < 0 ||
    length < 0 ||
    srcOffset + length > srcLength ||
    dstOffset + length > dstLength
  ) {
    throw new RangeError(
      `G.711 range out of bounds: src ${srcOffset}+${length}/${srcLength}, dst ${dstOffset}+${length}/${dstLength}`,
    );
  }
}

// The four loops below are written out, one per table, on purpose: one closure over the
// table (and shift/mask) for both laws measured ~30 % slower (`npx tsx`, 300k frames each
// way), as V8 then shares one feedback site between the laws.

/** Decodes μ-law bytes into `dst` without allocating; returns the number of samples written. */
export function decodeMulawInto(
  src: Uint8Array,
  dst: Int16Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  checkRange(src.length, dst.length, srcOffset, dstOffset, length);
  const table = MULAW_DECODE;
  for (let i = 0; i < length; i++) dst[dstOffset + i] = table[src[srcOffset + i]!]!;
  return length;
}

/** Decodes A-law bytes into `dst` without allocating; returns the number of samples written. */
export function decodeAlawInto(
  src: Uint8Array,
  dst: Int16Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  checkRange(src.length, dst.length, srcOffset, dstOffset, length);
  const table = ALAW_DECODE;
  for (let i = 0; i < length; i++) dst[dstOffset + i] = table[src[srcOffset + i]!]!;
  return length;
}

/** Encodes PCM16 samples as μ-law into `dst` without allocating; returns the bytes written. */
export function encodeMulawInto(
  src: Int16Array,
  dst: Uint8Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  checkRange(src.length, dst.length, srcOffset, dstOffset, length);
  const table = MULAW_ENCODE;
  for (let i = 0; i < length; i++)
    dst[dstOffset + i] = table[(src[srcOffset + i]! >> MULAW_SHIFT) & MULAW_MASK]!;
  return length;
}

/** Encodes PCM16 samples as A-law into `dst` without allocating; returns the bytes written. */
export function encodeAlawInto(
  src: Int16Array,
  dst: Uint8Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  checkRange(src.length, dst.length, srcOffset, dstOffset, length);
  const table = ALAW_ENCODE;
  for (let i = 0; i < length; i++)
    dst[dstOffset + i] = table[(src[srcOffset + i]! >> ALAW_SHIFT) & ALAW_MASK]!;
  return length;
}

/** Decodes μ-law bytes to a new PCM16 array. */
export function decodeMulaw(src: Uint8Array): Int16Array {
  const out = new Int16Array(src.length);
  decodeMulawInto(src, out);
  return out;
}

/** Decodes A-law bytes to a new PCM16 array. */
export function decodeAlaw(src: Uint8Array): Int16Array {
  const out = new Int16Array(src.length);
  decodeAlawInto(src, out);
  return out;
}

/** Encodes PCM16 samples to new μ-law bytes. */
export function encodeMulaw(src: Int16Array): Uint8Array {
  const out = new Uint8Array(src.length);
  encodeMulawInto(src, out);
  return out;
}

/** Encodes PCM16 samples to new A-law bytes. */
export function encodeAlaw(src: Int16Array): Uint8Array {
  const out = new Uint8Array(src.length);
  encodeAlawInto(src, out);
  return out;
}

/** The quietest code in each law (μ-law 0xFF decodes to 0; A-law has no zero, 0xD5 is +8). */
export function silenceByte(codec: Codec): number {
  return codec === 'alaw' ? 0xd5 : 0xff;
}

const MULAW_MAGNITUDE = MULAW_DECODE.map(Math.abs);
const ALAW_MAGNITUDE = ALAW_DECODE.map(Math.abs);

/** Largest decoded |sample| of G.711 bytes, read from a table (silence detection). */
export function peakOf(codec: Codec, src: Uint8Array): number {
  const table = codec === 'alaw' ? ALAW_MAGNITUDE : MULAW_MAGNITUDE;
  let peak = 0;
  for (let i = 0; i < src.length; i++) {
    const m = table[src[i]!]!;
    if (m > peak) peak = m;
  }
  return peak;
}

/** Signature shared by the allocation-free decoders, for callers that pick one per stream. */
export type DecodeInto = typeof decodeMulawInto;
/** Signature shared by the allocation-free encoders. */
export type EncodeInto = typeof encodeMulawInto;

/** The allocation-free decoder for `codec`; resolve once per stream, not per frame. */
export function decoderFor(codec: Codec): DecodeInto {
  return codec === 'alaw' ? decodeAlawInto : decodeMulawInto;
}

/** The allocation-free encoder for `codec`; resolve once per stream, not per frame. */
export function encoderFor(codec: Codec): EncodeInto {
  return codec === 'alaw' ? encodeAlawInto : encodeMulawInto;
}

/** Decodes G.711 bytes of either law into `dst`; returns the number of samples written. */
export function decodeInto(
  codec: Codec,
  src: Uint8Array,
  dst: Int16Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  return decoderFor(codec)(src, dst, srcOffset, dstOffset, length);
}

/** Encodes PCM16 into G.711 bytes of either law in `dst`; returns the bytes written. */
export function encodeInto(
  codec: Codec,
  src: Int16Array,
  dst: Uint8Array,
  srcOffset = 0,
  dstOffset = 0,
  length = src.length - srcOffset,
): number {
  return encoderFor(codec)(src, dst, srcOffset, dstOffset, length);
}

/** 8 kHz PCM16 as 20 ms frames of G.711 in `codec` (a trailing partial frame is dropped). */
export function* g711Frames(pcm: Int16Array, codec: Codec): Generator<Uint8Array> {
  const encode = encoderFor(codec);
  for (let off = 0; off + 160 <= pcm.length; off += 160) {
    const frame = new Uint8Array(160);
    encode(pcm, frame, off, 0, 160);
    yield frame;
  }
}
