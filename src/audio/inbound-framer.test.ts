import { describe, expect, it } from 'vitest';
import { isPbError } from '../errors.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';
import { InboundFramer, type InboundFramerOptions } from './inbound-framer.js';

const FRAME = 160;

/** A framer that records what it emits. */
function harness(options?: InboundFramerOptions) {
  const frames: Int16Array[] = [];
  const codec = options?.codec ?? 'mulaw';
  // Frames are G.711 bytes; decoding them here keeps the assertions about the audio.
  const framer = new InboundFramer((g711) => {
    expect(g711).toHaveLength(FRAME);
    frames.push(codec === 'alaw' ? decodeAlaw(g711) : decodeMulaw(g711));
  }, options);
  const all = (): Int16Array => {
    const out = new Int16Array(frames.length * FRAME);
    frames.forEach((f, i) => out.set(f, i * FRAME));
    return out;
  };
  return { framer, frames, all };
}

/** Non-silent μ-law audio: a ramp through many codes, never a decoded zero. */
function speech(samples: number, seed = 1): Uint8Array {
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++) pcm[i] = 1000 + (((i + seed) * 997) % 20000);
  return encodeMulaw(pcm);
}

function frameOf(bytes: Uint8Array, ts: number): [Uint8Array, number] {
  return [bytes, ts];
}

describe('InboundFramer', () => {
  it.each([
    ['with whole-ms timestamps', true],
    ['without timestamps', false],
  ])('re-chunks payloads of 1, 80, 159, 160, 161 and 400 bytes %s', (_name, withTs) => {
    const sizes = [1, 80, 159, 160, 161, 400];
    const stream = speech(sizes.reduce((a, b) => a + b, 0) * 3);
    const { framer, frames, all } = harness();
    let pos = 0;
    for (let round = 0; round < 3; round++)
      for (const size of sizes) {
        // Twilio reports whole ms, so odd-sized payloads carry a timestamp up to 1 ms early.
        framer.push(stream.subarray(pos, pos + size), withTs ? Math.floor(pos / 8) : undefined);
        pos += size;
      }
    framer.flush();

    expect(frames.every((f) => f.length === FRAME)).toBe(true);
    const expected = new Int16Array(Math.ceil(stream.length / FRAME) * FRAME);
    expected.set(decodeMulaw(stream));
    expect(all()).toEqual(expected);
    expect(framer.stats).toEqual({
      frames: expected.length / FRAME,
      bytesIn: stream.length,
      gapsFilled: 0,
      silenceFilledMs: 0,
      lateDropped: 0,
    });
  });

  it('fills a 200 ms timestamp gap with exactly 10 frames of silence', () => {
    const { framer, frames } = harness();
    framer.push(speech(FRAME, 1), 5);
    framer.push(speech(FRAME, 2), 25);
    framer.push(speech(FRAME, 3), 245); // expected 45: 200 ms missing
    framer.push(speech(FRAME, 4), 265);
    expect(frames).toHaveLength(14);
    for (let i = 2; i < 12; i++) expect(frames[i]!.every((s) => s === 0)).toBe(true);
    expect(frames[12]).toEqual(decodeMulaw(speech(FRAME, 3)));
    expect(frames[13]).toEqual(decodeMulaw(speech(FRAME, 4)));
    expect(framer.stats).toMatchObject({ frames: 14, gapsFilled: 1, silenceFilledMs: 200 });
  });

  it('caps a long gap at maxGapFillMs and resumes on the new timeline', () => {
    const { framer, frames } = harness({ maxGapFillMs: 100 });
    framer.push(speech(FRAME, 1), 0);
    framer.push(speech(FRAME, 2), 60_000);
    framer.push(speech(FRAME, 3), 60_020);
    expect(frames).toHaveLength(1 + 5 + 2);
    expect(frames[7]).toEqual(decodeMulaw(speech(FRAME, 3)));
    expect(framer.stats).toMatchObject({ gapsFilled: 1, silenceFilledMs: 100, lateDropped: 0 });
  });

  it('ignores gaps of half a frame or less', () => {
    const { framer, frames } = harness();
    framer.push(speech(FRAME, 1), 0);
    framer.push(speech(FRAME, 2), 30); // 10 ms ahead: jitter, not loss
    expect(frames).toHaveLength(2);
    expect(framer.stats.gapsFilled).toBe(0);
  });

  it('passes a 500 ms burst (25 frames at once) through unchanged', () => {
    const { framer, frames } = harness();
    const burst = Array.from({ length: 25 }, (_, i) => frameOf(speech(FRAME, i), 1000 + i * 20));
    for (const [bytes, ts] of burst) framer.push(bytes, ts);
    expect(frames).toHaveLength(25);
    burst.forEach(([bytes], i) => expect(frames[i]).toEqual(decodeMulaw(bytes)));
    expect(framer.stats).toMatchObject({ gapsFilled: 0, lateDropped: 0 });
  });

  it('drops duplicates and trims partial overlaps', () => {
    const { framer, frames, all } = harness();
    const stream = speech(FRAME * 4);
    framer.push(stream.subarray(0, 160), 0);
    framer.push(stream.subarray(160, 320), 20);
    framer.push(stream.subarray(160, 320), 20); // duplicate
    framer.push(stream.subarray(0, 160), 0); // much older duplicate
    framer.push(stream.subarray(240, 480), 30); // first 10 ms already emitted
    framer.push(stream.subarray(480, 640), 60);
    expect(frames).toHaveLength(4);
    expect(all()).toEqual(decodeMulaw(stream));
    expect(framer.stats).toMatchObject({ lateDropped: 2, gapsFilled: 0, bytesIn: 1040 });
  });

  it('appends untimestamped messages contiguously and keeps the timeline', () => {
    const { framer, frames } = harness();
    framer.push(speech(FRAME, 1), 0);
    framer.push(speech(FRAME, 2));
    framer.push(speech(FRAME, 3), 40); // exactly where the untimestamped one ended
    expect(frames).toHaveLength(3);
    expect(framer.stats.gapsFilled).toBe(0);
  });

  it('re-anchors on a timestamp that jumps far back instead of dropping forever', () => {
    const { framer, frames } = harness();
    framer.push(speech(FRAME, 1), 20_000);
    framer.push(speech(FRAME, 2), 0);
    framer.push(speech(FRAME, 3), 20);
    expect(frames).toHaveLength(3);
    expect(framer.stats.lateDropped).toBe(0);
  });

  it('hands out a fresh array, owning its whole buffer, per frame', () => {
    const { framer, frames } = harness();
    framer.push(speech(FRAME * 2));
    framer.push(speech(FRAME));
    expect(new Set(frames).size).toBe(3);
    // rtc-node's AudioFrame reads `data.buffer` from byte 0: each frame must own its buffer.
    for (const f of frames) expect([f.byteOffset, f.buffer.byteLength]).toEqual([0, FRAME * 2]);
    expect(frames[0]).toEqual(decodeMulaw(speech(FRAME * 2)).subarray(0, FRAME));
  });

  it('flush pads the partial frame with silence and is a no-op when empty', () => {
    const { framer, frames } = harness();
    framer.flush();
    expect(frames).toHaveLength(0);
    framer.push(speech(100), 0);
    framer.flush();
    framer.flush();
    expect(frames).toHaveLength(1);
    expect(frames[0]!.subarray(0, 100)).toEqual(decodeMulaw(speech(100)));
    expect(frames[0]!.subarray(100).every((s) => s === 0)).toBe(true);
  });

  it('decodes A-law', () => {
    const pcm = new Int16Array(FRAME * 2);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(Math.sin(i / 7) * 16000);
    const bytes = encodeAlaw(pcm);
    const { framer, all } = harness({ codec: 'alaw' });
    framer.push(bytes.subarray(0, 123), 0);
    framer.push(bytes.subarray(123), 15);
    expect(all()).toEqual(decodeAlaw(bytes));
  });

  it('rejects bad options with every problem named', () => {
    const bad = { codec: 'opus', maxGapFillMs: -1 } as unknown as InboundFramerOptions;
    let caught: unknown;
    try {
      new InboundFramer(() => {}, bad);
    } catch (err) {
      caught = err;
    }
    expect(isPbError(caught, 'PB_ERR_CONFIG')).toBe(true);
    expect(String(caught)).toMatch(/codec.*maxGapFillMs/);
  });
});

describe('InboundFramer gap-fill flag', () => {
  it('marks every frame that holds silence it inserted, and no other', () => {
    const flags: boolean[] = [];
    const framer = new InboundFramer((_g711, filled) => flags.push(filled));
    framer.push(speech(FRAME), 0);
    // 100 ms never arrived: five frames of fill, then the audio that did.
    framer.push(speech(FRAME, 2), 120);
    framer.push(speech(FRAME, 3), 140);
    expect(flags).toEqual([false, true, true, true, true, true, false, false]);
  });
});
