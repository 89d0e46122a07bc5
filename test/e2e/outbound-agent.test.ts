import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { activeWindows } from '../../src/audio/analysis.js';
import { parseWav, toMonoPcm16 } from '../../src/audio/wav.js';
import { activeSpanMs } from '../../src/agent/testing/speech.js';
import type { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { alive, childPids, startWorker } from '../../src/agent/testing/worker-process.js';
import { livekit, roomService, waitFor } from '../helpers/livekit.js';
import { startOutboundStack, type OutboundStack } from '../helpers/outbound.js';
import { expectRecording, expectWholeSpeech, shippedPrompts } from '../helpers/prompt-match.js';
import type { CalleeScenario } from '../../src/sim/callee.js';

const AGENT_NAME = `pb-outbound-${process.pid}`;
const RATE = 8000;

/** A shipped prompt at the phone's 8 kHz, as the callee would hear it. */
function prompt(name: string): Int16Array {
  const path = fileURLToPath(new URL(`../../assets/prompts/${name}.wav`, import.meta.url));
  return toMonoPcm16(parseWav(readFileSync(path)), RATE);
}

/** Loud 20 ms windows (above -40 dBFS) between two times of a recording. */
function loudMs(pcm: Int16Array, fromMs = 0, toMs = (pcm.length * 1000) / RATE): number {
  const w = activeWindows(
    pcm.subarray((fromMs * RATE) / 1000, (toMs * RATE) / 1000),
    RATE,
    20,
    -40,
  );
  return w.filter(Boolean).length * 20;
}

/** Where speech starts in a recording (first loud 20 ms window), in ms; for the log. */
function speechStartMs(pcm: Int16Array): number {
  return activeWindows(pcm, RATE, 20, -40).indexOf(true) * 20;
}

/** Heard audio that is the prompt: about as long, and the same sounds in the same order. */
function expectPrompt(heard: Int16Array, name: string): void {
  const p = prompt(name);
  const want = activeSpanMs(p, RATE);
  const got = activeSpanMs(heard, RATE);
  console.log(`${name}: prompt ${want} ms of speech, heard ${got} ms`);
  expectWholeSpeech(got, want);
  expectRecording([heard], RATE, name, shippedPrompts());
}

async function roomExists(room: string): Promise<boolean> {
  return (await roomService().listRooms([room])).some((r) => r.name === room);
}

describe('outbound calls with the echo agent (offline): answering-machine detection', () => {
  let worker: WorkerProcess;
  let s: OutboundStack;
  const lk = livekit();

  beforeAll(async () => {
    worker = await startWorker(lk, {
      AGENT_NAME,
      AGENT_MODE: 'echo',
      SILENCE_PROMPT_AFTER_MS: '30000',
    });
    s = await startOutboundStack({ AGENT_DISPATCH: 'true', AGENT_NAME });
  }, 120_000);

  afterAll(async () => {
    await s?.pb.stop();
    await s?.emu.close();
    const children = worker ? childPids(worker.pid!) : [];
    await worker?.stop();
    await waitFor(() => children.every((pid) => !alive(pid)), 15_000, 'job processes to exit');
    await dispose();
  });

  /**
   * The callee picks up once the dispatched agent is in the room, as it is in production
   * (idle job processes are pre-forked there), so what the callee hears does not depend on
   * how fast this machine forks a job process.
   */
  async function pickUpWhenAgentJoined(
    body: Record<string, unknown> & { to: string },
    scenario: Omit<CalleeScenario, 'pickUp'>,
  ) {
    let joined!: () => void;
    s.scenarios.set(body.to, { ...scenario, pickUp: new Promise<void>((r) => (joined = r)) });
    const placed = await s.dial(body);
    const callRef = placed.room.slice('call-'.length);
    await waitFor(
      () => worker.logs.some((l) => l.callSid === callRef && l.msg === 'agent joined call'),
      60_000,
      'agent to join the room',
    );
    joined();
    return placed;
  }

  it('a person answers: the agent waits for the verdict, then greets first, and the callee hears the greeting', async () => {
    const placed = await pickUpWhenAgentJoined(
      { to: '+15555551001', metadata: { reason: 'appointment reminder' } },
      // A second and a half of nothing before "Hello?": a hurried agent would be heard in it.
      { kind: 'human', helloAtMs: 2500, durationMs: 15_000 },
    );
    const report = await s.emu.finished(placed.callSid);
    expect(report.errors).toEqual([]);
    expect(report.answeredBy).toBe('human');
    expect(report.statuses).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    // "Hello?" ends 3.17 s in; Twilio's verdict follows 1.2 s of silence (callee.ts).
    const verdictAtMs = report.verdictAtMs!;
    expect(verdictAtMs).toBeGreaterThan(4000);
    expect(loudMs(report.heard, 0, verdictAtMs)).toBe(0);
    const afterVerdict = report.heard.subarray((verdictAtMs * RATE) / 1000);
    console.log(`the greeting was heard ${speechStartMs(afterVerdict)} ms after the verdict`);
    expectPrompt(afterVerdict, 'greeting');
    await s.pb.server.ctx.registry.settled();
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'human', answeredBy: 'human', status: 'completed' });
    expect(rec.json.durationSeconds).toBeGreaterThanOrEqual(12);
  });

  it('voicemail: the agent stays silent through the greeting, the machine records the message after the beep, then the call ends', async () => {
    const placed = await pickUpWhenAgentJoined(
      { to: '+15555551002' },
      { kind: 'voicemail', durationMs: 30_000 },
    );
    const report = await s.emu.finished(placed.callSid);
    expect(report.errors).toEqual([]);
    expect(report.answeredBy).toBe('machine_end_beep');
    const beforeBeep = report.heard.length - report.recording!.length;
    expect(loudMs(report.heard.subarray(0, beforeBeep))).toBe(0);
    console.log(`the message was heard ${speechStartMs(report.recording!)} ms after the beep`);
    expectPrompt(report.recording!, 'voicemail');
    // The agent hung up (long before the machine's 30 s): the bridge ended the call through
    // Twilio's REST API, which stopped the stream.
    expect(report.stream?.end).toBe('call-ended');
    expect(report.updates).toContainEqual({ Status: 'completed' });
    expect(report.durationSeconds).toBeLessThan(25);
    await s.pb.server.ctx.registry.settled();
    expect(s.pb.server.ctx.registry.active).toBe(0);
    expect(await roomExists(placed.room)).toBe(false);
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'voicemail', answeredBy: 'machine_end_beep' });
  });

  it('machine=hangup: a machine is hung up on without a word', async () => {
    const placed = await pickUpWhenAgentJoined(
      { to: '+15555551003', machine: 'hangup' },
      { kind: 'voicemail', durationMs: 30_000 },
    );
    const report = await s.emu.finished(placed.callSid);
    expect(report.answeredBy).toBe('machine_end_beep');
    expect(loudMs(report.heard)).toBe(0);
    expect(report.stream?.end).toBe('call-ended');
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'machine' });
  });

  it('busy: the dispatched agent is released with the room', async () => {
    s.scenarios.set('+15555551004', { kind: 'busy', ringMs: 15_000 });
    const placed = await s.dial({ to: '+15555551004' });
    const callRef = placed.room.slice('call-'.length);
    // The agent was dispatched before dialling and waits in the room while it rings.
    await waitFor(
      () => worker.logs.some((l) => l.callSid === callRef && l.msg === 'agent joined call'),
      14_000,
      'agent to join the room',
    );
    await s.emu.finished(placed.callSid);
    await waitFor(
      () => worker.logs.some((l) => l.callSid === callRef && l.msg === 'agent leaving call'),
      15_000,
      'agent to leave',
    );
    expect(await roomExists(placed.room)).toBe(false);
    expect((await s.api('GET', `/calls/${placed.callSid}`)).json.outcome).toBe('busy');
  });
});
