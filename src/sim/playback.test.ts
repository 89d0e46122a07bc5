import { describe, expect, it } from 'vitest';
import { VirtualClock } from './clock.js';
import { Playback, runPlaybackClock, type MarkEcho } from './playback.js';

const audio = (frames: number, value = 1000): Int16Array =>
  new Int16Array(frames * 160).fill(value);

function setup() {
  const echoes: (MarkEcho & { tick: number })[] = [];
  let tick = 0;
  const p = new Playback((e) => echoes.push({ ...e, tick }));
  const play = (n: number): void => {
    for (let i = 0; i < n; i++) {
      tick++;
      p.tick();
    }
  };
  return { p, echoes, play };
}

describe('Playback', () => {
  it('consumes 160 samples per tick and fills silence when dry', () => {
    const { p, play } = setup();
    p.enqueueAudio(audio(1, 7));
    p.enqueueAudio(new Int16Array(80).fill(9));
    play(3);
    const heard = p.heard();
    expect(heard.length).toBe(480);
    expect(heard[0]).toBe(7);
    expect(heard[160]).toBe(9);
    expect(heard[240]).toBe(0);
    expect(p.supplied()).toEqual([160, 80, 0]);
  });

  it('echoes a mark once the audio before it has been played', () => {
    const { p, echoes, play } = setup();
    p.enqueueAudio(audio(3));
    p.enqueueMark('m1');
    p.enqueueAudio(audio(2));
    p.enqueueMark('m2');
    play(3);
    expect(echoes).toEqual([]); // third frame is still playing
    play(1);
    expect(echoes).toEqual([{ name: 'm1', reason: 'played', tick: 4 }]);
    play(2);
    expect(echoes.map((e) => [e.name, e.tick])).toEqual([
      ['m1', 4],
      ['m2', 6],
    ]);
    expect(p.stats).toMatchObject({ marksReceived: 2, marksPlayed: 2, marksCleared: 0 });
  });

  it('echoes a mark at once when nothing is queued or playing', () => {
    const { p, echoes } = setup();
    p.enqueueMark('idle');
    expect(echoes).toEqual([{ name: 'idle', reason: 'played', tick: 0 }]);
  });

  it('clear drops queued audio and echoes every pending mark immediately', () => {
    const { p, echoes, play } = setup();
    p.enqueueAudio(audio(10));
    p.enqueueMark('a');
    p.enqueueAudio(audio(10));
    p.enqueueMark('b');
    play(2);
    p.clear();
    expect(echoes.map((e) => [e.name, e.reason, e.tick])).toEqual([
      ['a', 'cleared', 2],
      ['b', 'cleared', 2],
    ]);
    expect(p.queuedSamples).toBe(0);
    expect(p.stats).toMatchObject({ clears: 1, marksCleared: 2, samplesCleared: 18 * 160 });
    play(1);
    expect(p.supplied().at(-1)).toBe(0);
    p.enqueueAudio(audio(1, 5));
    play(1);
    expect(p.heard()[3 * 160]).toBe(5);
  });

  it('runPlaybackClock ticks on absolute 20 ms deadlines, half a frame out of phase, until aborted', async () => {
    const { p } = setup();
    const clock = new VirtualClock(100);
    const ac = new AbortController();
    const ticks: number[] = [];
    const orig = p.tick.bind(p);
    p.tick = () => {
      ticks.push(clock.now());
      if (ticks.length === 5) ac.abort();
      return orig();
    };
    await runPlaybackClock(p, clock, 100, ac.signal);
    expect(ticks).toEqual([110, 130, 150, 170, 190]);
  });
});
