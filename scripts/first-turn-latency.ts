// First-turn latency on the agent's side, OpenAI mode against the fake Realtime server
// (which answers at once): a fresh call per turn; the caller says one sentence the moment
// the agent listens (phonebridge.listening) and we time, from the end of the caller's
// speech (its last loud frame sent): the server's speech_stopped (its VAD's silence,
// SILENCE_DURATION_MS), the first reply audio delta it sends, the agent's state becoming
// `speaking` (its first reply frame captured, as the caller sees the attribute) and the
// first audible reply frame at the caller (after the SFU and the caller's jitter buffer;
// the reply recording starts with 100 ms of silence, which is subtracted).
//
//   npx tsx scripts/first-turn-latency.ts [--calls 10] [--compiled]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { rmsDbfs } from '../src/audio/analysis.js';
import { LISTENING_TOPIC } from '../src/livekit/signals.js';
import { fixtureWav } from '../src/agent/testing/speech.js';
import { summarise, until, sleep } from './lib/measure.js';
import { startOpenAiStack } from './lib/openai-stack.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '10' },
    compiled: { type: 'boolean', default: false },
  },
});
const speech = fixtureWav('caller-hello.wav');
const reply = fixtureWav('assistant-reply.wav');
/** Where a recording's last (or first) loud 20 ms frame ends (or starts), in ms. */
const loudEdge = (samples: Int16Array, rate: number, last: boolean): number => {
  const w = rate / 50;
  const loud: number[] = [];
  for (let o = 0; o + w <= samples.length; o += w) {
    if (rmsDbfs(samples.subarray(o, o + w)) > -40) loud.push(o / w);
  }
  return last ? (loud.at(-1)! + 1) * 20 : loud[0]! * 20;
};
const speechEndMs = loudEdge(speech.samples, speech.sampleRateHz, true);
const replyLeadMs = loudEdge(reply.samples, reply.sampleRateHz, false);

const stack = await startOpenAiStack({ name: 'turn', compiled: values.compiled });
const { svc, fake, worker } = stack;
await until(() => worker.logs.some((l) => l.msg === 'job process ready'), 120_000);

const rows: Record<string, number | undefined>[] = [];
for (let call = 0; call < Number(values.calls); call++) {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const { room, caller, conns } = await stack.call(callSid, `phone-${call}`);
  try {
    if (!(await until(() => caller.dataPackets.some((p) => p.topic === LISTENING_TOPIC), 60_000))) {
      console.log(JSON.stringify({ call, error: 'agent never listened' }));
      continue;
    }
    await caller.play(speech.samples);
    const endedAt = caller.playStarts.at(-1)! + speechEndMs;
    await until(() => caller.firstAudibleAt(endedAt) !== undefined, 15_000);
    const conn = conns; // this call's Realtime connection
    const rel = (t: number | undefined) => (t === undefined ? undefined : t - endedAt);
    const row = {
      call,
      speechStoppedMs: rel(fake.sentAt('input_audio_buffer.speech_stopped', conn)[0]),
      firstDeltaMs: rel(fake.sentAt('response.output_audio.delta', conn)[0]),
      speakingAtCallerMs: rel(caller.agentStates.find((s) => s.state === 'speaking')?.atMs),
      audibleAtCallerMs: rel(
        caller.firstAudibleAt(endedAt) === undefined
          ? undefined
          : caller.firstAudibleAt(endedAt)! - replyLeadMs,
      ),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  } finally {
    await caller.leave();
    await svc.deleteRoom(room).catch(() => undefined);
  }
  await sleep(1000);
}

const summary = {
  calls: rows.length,
  speechEndMs,
  replyLeadMs,
  ...summarise(rows, [
    'speechStoppedMs',
    'firstDeltaMs',
    'speakingAtCallerMs',
    'audibleAtCallerMs',
  ]),
};
console.log(JSON.stringify({ summary }));
await dispose();
await stack.stop();
