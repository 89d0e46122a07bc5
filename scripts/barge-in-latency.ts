// Barge-in on the agent's side, hop by hop, against the fake Realtime server (which
// reports speech 60 ms into the caller's speech and streams replies faster than real
// time, as OpenAI does). One call; each round the caller asks, the model answers with 4 s
// of position-coded tones, and a second into the answer the caller talks over it.
//
// Per round, from the caller's first loud frame: speech_started sent by the server; the
// agent's handler (the framework's user state); its audio flushed; the
// phonebridge.interrupted packet sent and received; and the last frame of the interrupted
// reply received by the caller (after the SFU and the caller's jitter buffer: what a bridge
// would forward). Prints one JSON line per round and p50/p95 per hop.
//
//   npx tsx scripts/barge-in-latency.ts [--rounds 20] [--reply-speed 4] [--compiled]
import { parseArgs } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { rmsDbfs } from '../src/audio/analysis.js';
import { INTERRUPTED_TOPIC, LISTENING_TOPIC } from '../src/livekit/signals.js';
import { fixtureWav } from '../src/agent/testing/speech.js';
import { positionTones, toneStep } from '../test/fixtures/fake-realtime/tones.js';
import { summarise, until, sleep } from './lib/measure.js';
import { startOpenAiStack } from './lib/openai-stack.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    'reply-speed': { type: 'string', default: '4' },
    compiled: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const STEPS = 20;
const speech = fixtureWav('caller-hello.wav');
// The fixture starts with 100 ms of silence: time the barge-in from its first loud frame.
let onsetFrames = 0;
while (rmsDbfs(speech.samples.subarray(onsetFrames * 160, onsetFrames * 160 + 160)) < -40) {
  onsetFrames++;
}
const onsetMs = onsetFrames * 20;

const stack = await startOpenAiStack({
  name: 'barge',
  compiled: values.compiled,
  replySpeed: Number(values['reply-speed']),
  env: { SILENCE_PROMPT_AFTER_MS: '600000' },
});
const { svc, fake, worker } = stack;
const { room, caller } = await stack.call(`CAbarge${Date.now()}`, 'phone-barge', 60);
await until(() => caller.dataPackets.some((p) => p.topic === LISTENING_TOPIC), 120_000);
// The call's one Realtime connection (it may open just after the agent starts listening).
const conn = () => fake.connections.length - 1;

type Row = Record<string, number | undefined>;
const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  fake.script.push({ type: 'audio', samples: positionTones(STEPS, 24_000), transcript: 'tones' });
  const askedAt = Date.now();
  await caller.play(speech.samples);
  const stepOf = (f: { samples: Int16Array }) => toneStep(f.samples, 8000, STEPS);
  const ok = await until(
    () => caller.received.some((f) => f.atMs > askedAt && (stepOf(f) ?? -1) >= 5),
    20_000,
  );
  if (!ok) {
    console.log(JSON.stringify({ round, error: 'no reply' }));
    continue;
  }
  const packetsBefore = caller.dataPackets.length;
  const cutsBefore = worker.logs.filter((l) => String(l.msg).startsWith('caller barged in')).length;
  const startedBefore = fake.sentAt('input_audio_buffer.speech_started', conn()).length;
  const truncatesBefore = fake.events('conversation.item.truncate', conn()).length;
  await caller.play(speech.samples);
  const loudAt = caller.playStarts.at(-1)! + onsetMs;
  // Let the answer to the barge-in play out before the next round.
  await until(() => caller.agentStates.at(-1)?.state === 'speaking', 10_000);
  await until(() => caller.agentStates.at(-1)?.state === 'listening', 20_000);
  await sleep(500);
  const packet = caller.dataPackets.slice(packetsBefore).find((p) => p.topic === INTERRUPTED_TOPIC);
  const cut = worker.logs.filter((l) => String(l.msg).startsWith('caller barged in'))[cutsBefore];
  const reply = caller.received.filter((f) => f.atMs > askedAt && stepOf(f) !== undefined);
  const speechStarted = fake.sentAt('input_audio_buffer.speech_started', conn())[startedBefore];
  const truncate = fake.events('conversation.item.truncate', conn())[truncatesBefore];
  const lastStep = reply.length ? stepOf(reply.at(-1)!) : undefined;
  const lastReplyAt = reply.at(-1)?.atMs;
  const notSpeaking = caller.agentStates.find((s) => s.atMs > loudAt && s.state !== 'speaking');
  const rel = (t: number | undefined) => (t === undefined ? undefined : t - loudAt);
  const row: Row = {
    round,
    speechStartedMs: rel(speechStarted),
    agentHeardMs: rel(cut?.heardAt as number | undefined),
    flushedMs: rel(cut?.flushedAt as number | undefined),
    packetSentMs: rel(cut?.announcedAt as number | undefined),
    packetAtCallerMs: rel(packet?.atMs),
    stateChangeAtCallerMs: rel(notSpeaking?.atMs),
    lastReplyFrameAtCallerMs: rel(lastReplyAt),
    queuedMs: cut?.queuedMs as number | undefined,
    // What the agent says it had played when it cut (the framework's truncation point),
    // and the end of the last 200 ms tone step the caller heard: the difference is what
    // reached the caller beyond the cut, within one step.
    playedMs: truncate?.audio_end_ms as number | undefined,
    heardUpToMs: lastStep === undefined ? undefined : (lastStep + 1) * 200,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}

const summary = {
  rounds: rows.length,
  onsetMs,
  ...summarise(
    rows,
    Object.keys(rows[0] ?? {}).filter((k) => k !== 'round'),
  ),
};
console.log(JSON.stringify({ summary }));

await caller.leave();
await svc.deleteRoom(room).catch(() => undefined);
await dispose();
await stack.stop();
