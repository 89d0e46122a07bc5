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
import { AccessToken, AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { dispose } from '@livekit/rtc-node';
import { rmsDbfs } from '../src/audio/analysis.js';
import { LISTENING_TOPIC } from '../src/agent/bridge-signals.js';
import { FakeCaller } from '../src/agent/testing/fake-caller.js';
import { fixtureWav } from '../src/agent/testing/speech.js';
import { WorkerProcess } from '../src/agent/testing/worker-process.js';
import { LocalLiveKit } from '../src/livekit/local.js';
import { FakeRealtimeServer } from '../test/fixtures/fake-realtime/server.js';
import { pct, until, sleep } from './lib/measure.js';

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

const lk = await LocalLiveKit.start();
const svc = new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
const dispatcher = new AgentDispatchClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
const fake = await FakeRealtimeServer.start();
const agentName = `pb-turn-${process.pid}`;
const worker = await WorkerProcess.start({
  compiled: values.compiled,
  env: {
    LIVEKIT_URL: lk.url,
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    AGENT_NAME: agentName,
    AGENT_MODE: 'openai',
    OPENAI_API_KEY: 'sk-test-good-0123456789',
    OPENAI_BASE_URL: fake.baseURL,
  },
  readyTimeoutMs: 180_000,
});
await until(() => worker.logs.some((l) => l.msg === 'job process ready'), 120_000);

const rows: Record<string, number | undefined>[] = [];
for (let call = 0; call < Number(values.calls); call++) {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const room = `call-${callSid}`;
  await svc.createRoom({ name: room, emptyTimeout: 30 });
  const caller = new FakeCaller();
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity: `phone-${call}`, ttl: 600 });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
  await caller.join(lk.url, await at.toJwt());
  const conns = fake.connections.length;
  await dispatcher.createDispatch(room, agentName, {
    metadata: JSON.stringify({ callSid, from: '+15550001111', to: '+15550002222' }),
  });
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

const summary: Record<string, unknown> = { calls: rows.length, speechEndMs, replyLeadMs };
for (const key of ['speechStoppedMs', 'firstDeltaMs', 'speakingAtCallerMs', 'audibleAtCallerMs']) {
  const v = rows.map((r) => r[key]).filter((x): x is number => x !== undefined);
  v.sort((a, b) => a - b);
  summary[key] = { p50: pct(v, 50), p95: pct(v, 95), n: v.length };
}
console.log(JSON.stringify({ summary }));
await worker.stop();
await fake.close();
await dispose();
await lk.stop();
