import { describe, expect, it } from 'vitest';
import { SilentTrackWatchdog } from './silent-track-watchdog.js';

const zeros = new Int16Array(160);
/** What a live Opus stream carrying silence decodes to: comfort noise of ±1. */
const comfortNoise = Int16Array.from({ length: 160 }, (_, i) => (i % 7 === 0 ? 1 : 0));
const quietSpeech = Int16Array.from({ length: 160 }, (_, i) => Math.round(30 * Math.sin(i / 3)));

function feed(w: SilentTrackWatchdog, frame: Int16Array, n: number): void {
  for (let i = 0; i < n; i++) w.onFrame(frame, 20);
}

describe('SilentTrackWatchdog', () => {
  it('fires after 1.5 s of digital silence while the far end speaks', () => {
    let fired = 0;
    const w = new SilentTrackWatchdog({ isSpeaking: () => true, onSilent: () => fired++ });
    feed(w, zeros, 40);
    feed(w, comfortNoise, 34);
    expect(fired).toBe(0);
    feed(w, zeros, 1);
    expect(fired).toBe(1);
  });

  it('stays quiet while the far end is silent, however long the silence', () => {
    let fired = 0;
    const w = new SilentTrackWatchdog({ isSpeaking: () => false, onSilent: () => fired++ });
    feed(w, zeros, 500);
    expect(fired).toBe(0);
  });

  it('starts over on any audible frame, and on reset()', () => {
    let fired = 0;
    const w = new SilentTrackWatchdog({ isSpeaking: () => true, onSilent: () => fired++ });
    feed(w, zeros, 70);
    feed(w, quietSpeech, 1); // −61 dBFS peak: quiet, but not digital silence
    feed(w, zeros, 70);
    w.reset();
    feed(w, zeros, 70);
    expect(fired).toBe(0);
    feed(w, zeros, 5);
    expect(fired).toBe(1);
  });

  it('fires at most maxFires times', () => {
    let fired = 0;
    const w = new SilentTrackWatchdog({
      isSpeaking: () => true,
      onSilent: () => fired++,
      maxFires: 2,
    });
    feed(w, zeros, 50 * 10);
    expect(fired).toBe(2);
    expect(w.fired).toBe(2);
  });
});
