import { describe, expect, it } from 'vitest';
import { base64DecodedLength, decodeBase64Into, encodeBase64 } from './base64.js';

function bytes(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 37 + seed * 11) & 0xff;
  return b;
}

describe('base64', () => {
  it('round-trips every length 0..400 like Buffer does', () => {
    const dst = Buffer.alloc(512);
    for (let n = 0; n <= 400; n++) {
      const raw = bytes(n, n);
      const b64 = encodeBase64(raw);
      expect(b64).toBe(raw.toString('base64'));
      expect(base64DecodedLength(b64)).toBe(n);
      expect(decodeBase64Into(b64, dst, 3)).toBe(n);
      expect(dst.subarray(3, 3 + n).equals(raw)).toBe(true);
    }
  });

  it('writes into a plain Uint8Array view at its own byteOffset', () => {
    const backing = new Uint8Array(400).fill(0xaa);
    const view = backing.subarray(100, 300);
    const raw = bytes(160);
    expect(decodeBase64Into(raw.toString('base64'), view, 10)).toBe(160);
    expect(Buffer.from(backing.subarray(110, 270)).equals(raw)).toBe(true);
    expect(backing[109]).toBe(0xaa);
    expect(backing[270]).toBe(0xaa);
  });

  it('accepts unpadded input', () => {
    const raw = bytes(161);
    const unpadded = raw.toString('base64').replace(/=+$/, '');
    const dst = Buffer.alloc(161);
    expect(decodeBase64Into(unpadded, dst)).toBe(161);
    expect(dst.equals(raw)).toBe(true);
  });

  it('encodes a sub-range, also of a plain Uint8Array', () => {
    const raw = bytes(300);
    const plain = new Uint8Array(raw);
    expect(encodeBase64(plain, 20, 180)).toBe(raw.subarray(20, 180).toString('base64'));
  });

  it('refuses to truncate or write out of range', () => {
    const b64 = bytes(160).toString('base64');
    expect(() => decodeBase64Into(b64, Buffer.alloc(159))).toThrow(RangeError);
    expect(() => decodeBase64Into(b64, Buffer.alloc(200), 41)).toThrow(RangeError);
    expect(() => decodeBase64Into(b64, Buffer.alloc(200), -1)).toThrow(RangeError);
    expect(() => encodeBase64(Buffer.alloc(10), 5, 11)).toThrow(RangeError);
    expect(() => encodeBase64(Buffer.alloc(10), 6, 5)).toThrow(RangeError);
  });
});
