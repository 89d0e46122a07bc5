import { describe, expect, it } from 'vitest';
import { InboundPump } from './inbound-pump.js';

const SILENT = new Uint8Array(160).fill(0xff);
const LOUD = new Uint8Array(160).fill(0x10);

/** A pump feeding an engine that plays 20 ms per frame on a clock the test moves. */
function rig() {
  let now = 0;
  let playedUntil = 0;
  const sent: Uint8Array[] = [];
  const pump = new InboundPump({
    maxHeldFrames: 500,
    send: (f) => {
      playedUntil = Math.max(now, playedUntil) + 20;
      sent.push(f);
    },
    catchUp: {
      queuedMs: () => Math.max(0, playedUntil - now),
      isSilent: (f) => f[0] === 0xff,
      targetMs: 60,
      frameMs: 20,
    },
  });
  pump.resume();
  return {
    pump,
    sent,
    advance: (ms: number) => (now += ms),
  };
}

describe('InboundPump mid-call', () => {
  it('passes real-time audio untouched', () => {
    const r = rig();
    for (let i = 0; i < 100; i++) {
      r.pump.push(i % 10 < 3 ? LOUD : SILENT, 0);
      r.advance(20);
    }
    expect(r.sent).toHaveLength(100);
    expect(r.pump.skipped).toBe(0);
  });

  it('works a burst off in its silence, never in its speech', () => {
    const r = rig();
    // The sender stalled 400 ms, then sent it all at once: 5 loud frames, 15 silent.
    for (let i = 0; i < 20; i++) r.pump.push(i < 5 ? LOUD : SILENT, 0);
    expect(r.sent.filter((f) => f === LOUD)).toHaveLength(5);
    // Only as much silence as brings the engine's queue back to the target went out.
    expect(r.sent.length * 20).toBeLessThanOrEqual(100 + 60);
    expect(r.pump.skipped).toBe(20 - r.sent.length);
  });

  it('keeps gap-fill silence: that is the timeline of lost packets', () => {
    const r = rig();
    for (let i = 0; i < 20; i++) r.pump.push(i < 5 ? LOUD : SILENT, 0, i >= 5);
    expect(r.sent).toHaveLength(20);
    expect(r.pump.skipped).toBe(0);
  });
});
