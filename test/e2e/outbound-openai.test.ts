import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { activeWindows } from '../../src/audio/analysis.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { activeSpanMs, fixtureWav } from '../../src/agent/testing/speech.js';
import type { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { alive, childPids, startWorker } from '../../src/agent/testing/worker-process.js';
import type { CalleeScenario } from '../../src/sim/callee.js';
import { parseWav, toMonoPcm16 } from '../../src/audio/wav.js';
import { FakeRealtimeServer } from '../fixtures/fake-realtime/server.js';
import { livekit, waitFor } from '../helpers/livekit.js';
import { startOutboundStack, type OutboundStack } from '../helpers/outbound.js';
import { expectRecording, expectWholeSpeech, shippedPrompts } from '../helpers/prompt-match.js';

const AGENT_NAME = `pb-outbound-openai-${process.pid}`;
const RATE = 8000;

function loudMs(pcm: Int16Array): number {
  return activeWindows(pcm, RATE, 20, -40).filter(Boolean).length * 20;
}

/** What the fake Realtime server says for every response, at the phone's 8 kHz. */
function replyAt8k(): Int16Array {
  const path = fileURLToPath(
    new URL('../fixtures/fake-realtime/assistant-reply.wav', import.meta.url),
  );
  return toMonoPcm16(parseWav(readFileSync(path)), RATE);
}

describe('outbound calls in openai mode (fake Realtime server)', () => {
  let fake: FakeRealtimeServer;
  let worker: WorkerProcess;
  let s: OutboundStack;
  const lk = livekit();

  beforeAll(async () => {
    fake = await FakeRealtimeServer.start();
    worker = await startWorker(lk, {
      AGENT_NAME,
      AGENT_MODE: 'openai',
      OPENAI_API_KEY: 'sk-test-good-0123456789',
      OPENAI_BASE_URL: fake.baseURL,
      SILENCE_PROMPT_AFTER_MS: '60000',
    });
    s = await startOutboundStack({ AGENT_DISPATCH: 'true', AGENT_NAME });
  }, 120_000);

  afterAll(async () => {
    await s?.pb.stop();
    await s?.emu.close();
    const children = worker ? childPids(worker.pid!) : [];
    await worker?.stop();
    await waitFor(() => children.every((pid) => !alive(pid)), 15_000, 'job processes to exit');
    await fake?.close();
    await dispose();
  });

  /** Dials; the callee picks up once the agent's Realtime session is open. */
  async function dialWhenSessionOpen(
    body: Record<string, unknown> & { to: string },
    scenario: Omit<CalleeScenario, 'pickUp'>,
  ) {
    let open!: () => void;
    s.scenarios.set(body.to, { ...scenario, pickUp: new Promise<void>((r) => (open = r)) });
    const sessions = fake.events('session.update').length;
    const placed = await s.dial(body);
    await waitFor(
      () => fake.events('session.update').length > sessions,
      90_000,
      'Realtime session',
    );
    const marks = {
      sessions,
      appends: fake.events('input_audio_buffer.append').length,
      responses: fake.events('response.create').length,
    };
    open();
    return { placed, marks };
  }

  it('voicemail: the model hears nothing and says nothing until the beep, then speaks voicemailMessage, and the call ends', async () => {
    const message = "This is Dr. Lee's office: your appointment is tomorrow at nine.";
    const { placed, marks } = await dialWhenSessionOpen(
      { to: '+15555554001', voicemailMessage: message, metadata: { patient: 'Ana' } },
      { kind: 'voicemail', durationMs: 30_000 },
    );
    const report = await s.emu.finished(placed.callSid);
    expect(report.answeredBy).toBe('machine_end_beep');
    // Through the greeting, nothing reached the model and nothing was asked of it.
    const creates = fake.events('response.create').slice(marks.responses);
    expect(creates).toHaveLength(1);
    expect(JSON.stringify(creates[0])).toContain(message);
    expect(fake.events('input_audio_buffer.append').length).toBe(marks.appends);
    const instructions = JSON.stringify(fake.events('session.update').slice(marks.sessions));
    expect(instructions).toContain('outbound call');
    expect(instructions).toContain('\\"patient\\":\\"Ana\\"');
    // The machine recorded the model's answer after its beep, and nothing before it.
    const beforeBeep = report.heard.subarray(0, report.heard.length - report.recording!.length);
    expect(loudMs(beforeBeep)).toBe(0);
    const want = activeSpanMs(replyAt8k(), RATE);
    const got = activeSpanMs(report.recording!, RATE);
    expectWholeSpeech(got, want);
    expectRecording([report.recording!], RATE, 'reply', {
      reply: fixtureWav('assistant-reply.wav'),
      ...shippedPrompts(),
    });
    expect(report.stream?.end).toBe('call-ended');
    const rec = await s.api('GET', `/calls/${placed.callSid}`);
    expect(rec.json).toMatchObject({ outcome: 'voicemail' });
  });

  it('a person: the model is asked to greet once Twilio says human, and then hears the callee', async () => {
    const { placed, marks } = await dialWhenSessionOpen(
      { to: '+15555554002' },
      { kind: 'human', helloAtMs: 1000, durationMs: 12_000 },
    );
    const report = await s.emu.finished(placed.callSid);
    expect(report.answeredBy).toBe('human');
    const creates = fake.events('response.create').slice(marks.responses);
    expect(JSON.stringify(creates[0])).toContain('The person you called has just answered');
    // Audio flows to the model once it may talk, not before.
    expect(fake.events('input_audio_buffer.append').length).toBeGreaterThan(marks.appends);
    expect(loudMs(report.heard.subarray(0, (report.verdictAtMs! * RATE) / 1000))).toBe(0);
    expect(loudMs(report.heard)).toBeGreaterThan(1000);
  });
});
