import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activeWindows } from '../../src/audio/analysis.js';
import { parseWav, toMonoPcm16 } from '../../src/audio/wav.js';

/** Loud 100 ms windows between two times (ms) of a recording. */
function loudMsBetween(pcm: Int16Array, fromMs: number, toMs: number): number {
  const w = activeWindows(pcm, 8000, 100, -35);
  return w.slice(Math.floor(fromMs / 100), Math.ceil(toMs / 100)).filter(Boolean).length * 100;
}

describe('npm run demo', () => {
  it('runs the whole stack offline: the caller hears the greeting, then its own sentence echoed', async () => {
    const env = { ...process.env };
    for (const k of [
      'LIVEKIT_URL',
      'LIVEKIT_API_KEY',
      'LIVEKIT_API_SECRET',
      'OPENAI_API_KEY',
      'AGENT_MODE',
      'TWILIO_AUTH_TOKEN',
    ])
      delete env[k];
    const child = spawn(process.execPath, ['bin/phonebridge.js', 'demo', '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    const { report, recording } = JSON.parse(out) as {
      report: Record<string, any>;
      recording: string;
    };
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.end).toBe('caller-done');

    // The recording is on the caller's playback clock from stream start. The caller waits
    // 9.5 s (the greeting), speaks for 5 s, then listens for 8 s.
    const heard = toMonoPcm16(parseWav(readFileSync(recording)), 8000);
    // The greeting: anywhere before the caller speaks (a loaded machine starts the agent
    // later; 800 ms of it by 8 s was seen under two CPU hogs).
    expect(loudMsBetween(heard, 0, 9500)).toBeGreaterThan(1500);
    expect(loudMsBetween(heard, 14_500, heard.length / 8)).toBeGreaterThan(2500); // the echo of ~4 s of speech
  }, 120_000);
});
