import { fileURLToPath } from 'node:url';
import { tone } from '../audio/analysis.js';
import { readWavAs8kMono } from '../audio/wav.js';
import type { AnsweredBy } from '../twilio/webhook-params.js';

/** Who picks up an emulated outbound call. */
export type CalleeKind = 'human' | 'voicemail' | 'fax' | 'busy' | 'no-answer';
export const CALLEE_KINDS: readonly CalleeKind[] = [
  'human',
  'voicemail',
  'fax',
  'busy',
  'no-answer',
];

export interface CalleeScenario {
  kind: CalleeKind;
  /** How long it rings before the callee picks up (or the line is busy). Default 2 s. */
  ringMs?: number;
  /** Picks up when this settles instead (tests: once the agent is in the room); rings out at Timeout. */
  pickUp?: Promise<unknown>;
  /** human: when "Hello?" is said, after picking up. Default 400 ms. */
  helloAtMs?: number;
  /** human: something said after "Hello?", `atMs` after picking up. */
  talk?: { pcm: Int16Array; atMs: number };
  /**
   * human: hangs up this long after picking up (default 20 s); voicemail: the longest
   * message it records (default 30 s); fax: gives up after this (default 20 s).
   */
  durationMs?: number;
}

/** What the callee sends from the moment it picks up, and what Twilio's AMD makes of it. */
export interface CalleeScript {
  /** 8 kHz PCM16 from pick-up; `listenMs` of silence follow before the callee hangs up. */
  audio: Int16Array;
  listenMs: number;
  verdict: { answeredBy: AnsweredBy; atMs: number };
  /** voicemail: the recording starts here (ms after pick-up): the end of the beep. */
  recordFromMs?: number;
}

const ASSETS = fileURLToPath(new URL('../../assets/sim/', import.meta.url));
const RATE = 8000;
const samplesOf = (ms: number) => Math.round((ms * RATE) / 1000);
const msOf = (samples: number) => (samples * 1000) / RATE;

/** Twilio's default MachineDetectionSpeechEndThreshold: silence that ends a person's turn. */
const SPEECH_END_THRESHOLD_MS = 1200;
/** Voicemail beeps are a short pure tone; 1 kHz is the common one. */
const BEEP_HZ = 1000;
const BEEP_MS = 400;

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * The callee's side by scenario, with AMD verdicts timed as Twilio's DetectMessageEnd gives
 * them: `human` once the greeting word is followed by SPEECH_END_THRESHOLD_MS of silence;
 * `machine_end_beep` just after the beep; `fax` on the calling tone. Throws for scenarios
 * that never pick up.
 */
export async function calleeScript(s: CalleeScenario): Promise<CalleeScript> {
  switch (s.kind) {
    case 'human': {
      const hello = await readWavAs8kMono(`${ASSETS}callee-hello.wav`);
      const lead = new Int16Array(samplesOf(s.helloAtMs ?? 400));
      const helloEndMs = msOf(lead.length + hello.length);
      const parts = [lead, hello];
      if (s.talk) {
        parts.push(
          new Int16Array(Math.max(0, samplesOf(s.talk.atMs) - lead.length - hello.length)),
        );
        parts.push(s.talk.pcm);
      }
      const audio = concat(parts);
      return {
        audio,
        listenMs: Math.max(0, (s.durationMs ?? 20_000) - msOf(audio.length)),
        verdict: { answeredBy: 'human', atMs: Math.round(helloEndMs + SPEECH_END_THRESHOLD_MS) },
      };
    }
    case 'voicemail': {
      const greeting = await readWavAs8kMono(`${ASSETS}voicemail-greeting.wav`);
      const audio = concat([
        greeting,
        new Int16Array(samplesOf(300)),
        tone(BEEP_HZ, BEEP_MS, RATE, 0.5),
      ]);
      const beepEndMs = Math.round(msOf(audio.length));
      return {
        audio,
        listenMs: s.durationMs ?? 30_000,
        verdict: { answeredBy: 'machine_end_beep', atMs: beepEndMs + 100 },
        recordFromMs: beepEndMs,
      };
    }
    case 'fax': {
      // CNG: 1100 Hz for 0.5 s every 3.5 s.
      const cycles = Math.ceil((s.durationMs ?? 20_000) / 3500);
      const cycle = concat([tone(1100, 500, RATE, 0.5), new Int16Array(samplesOf(3000))]);
      return {
        audio: concat(Array.from({ length: cycles }, () => cycle)),
        listenMs: 0,
        verdict: { answeredBy: 'fax', atMs: 3000 },
      };
    }
    default:
      throw new Error(`a ${s.kind} callee never picks up`);
  }
}

/**
 * Numbers with a known callee in the emulation `phonebridge dev --twilio-emulator` starts;
 * any other number is answered by a person.
 */
export const EMULATED_NUMBERS: Readonly<Record<string, CalleeKind>> = {
  '+15555550111': 'human',
  '+15555550122': 'voicemail',
  '+15555550133': 'busy',
  '+15555550144': 'no-answer',
  '+15555550155': 'fax',
};

const DEMO_SENTENCE = fileURLToPath(new URL('../../assets/demo/caller.wav', import.meta.url));

/** The dev emulation's callees by number: a person says a sentence after the agent's greeting. */
export async function devScenarios(): Promise<(to: string) => CalleeScenario> {
  const pcm = await readWavAs8kMono(DEMO_SENTENCE);
  return (to) => {
    const kind = EMULATED_NUMBERS[to] ?? 'human';
    return kind === 'human' ? { kind, talk: { pcm, atMs: 11_000 }, durationMs: 30_000 } : { kind };
  };
}
