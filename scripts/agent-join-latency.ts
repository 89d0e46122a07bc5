// Agent join latency, the way a call sees it: from the webhook's dispatch (createRoom +
// createDispatch, as src/server/routes/incoming-call.ts does) until the agent has
// subscribed to the caller's track (the caller's LocalTrackSubscribed, which livekit-server
// sends once a subscriber's down track is bound and connected). The caller joins and
// publishes an 8 kHz PCM track right away, as the bridge does once the stream starts.
//
// Runs a local livekit-server and `phonebridge agent` as a subprocess (the sources under
// tsx, or dist/ with --compiled after `npm run build`), then places calls at a fixed rate
// and/or in a burst. Prints one JSON line per call and a summary with p50/p95.
//
//   npx tsx scripts/agent-join-latency.ts [--calls 20] [--rate 1] [--burst 5]
//     [--production] [--compiled] [--mode echo|openai|loopback] [--idle N] [--hold-ms 3000]
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AgentDispatchClient, AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { RoomEvent, dispose } from '@livekit/rtc-node';
import { LocalLiveKit } from '../src/livekit/local.js';
import { LISTENING_TOPIC } from '../src/livekit/signals.js';
import { FakeCaller } from '../src/agent/testing/fake-caller.js';
import { WorkerProcess, childPids } from '../src/agent/testing/worker-process.js';
import { FakeRealtimeServer } from '../test/fixtures/fake-realtime/server.js';
import { pct, sleep } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '20' },
    rate: { type: 'string', default: '1' },
    burst: { type: 'string', default: '5' },
    production: { type: 'boolean', default: false },
    compiled: { type: 'boolean', default: false },
    mode: { type: 'string', default: 'echo' },
    idle: { type: 'string' },
    'hold-ms': { type: 'string', default: '3000' },
  },
});
const calls = Number(values.calls);
const ratePerS = Number(values.rate);
const burst = Number(values.burst);
const holdMs = Number(values['hold-ms']);
const mode = values.mode as 'echo' | 'openai' | 'loopback';

const lk = await LocalLiveKit.start();
const svc = new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
const dispatcher = new AgentDispatchClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
const fake = mode === 'openai' ? await FakeRealtimeServer.start() : undefined;
const agentName = `pb-join-${process.pid}`;
const workerStartedAt = Date.now();
const worker = await WorkerProcess.start({
  production: values.production,
  compiled: values.compiled,
  env: {
    LIVEKIT_URL: lk.url,
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    AGENT_NAME: agentName,
    AGENT_MODE: mode,
    ...(values.idle ? { AGENT_IDLE_PROCESSES: values.idle } : {}),
    ...(fake ? { OPENAI_API_KEY: 'sk-test-good-0123456789', OPENAI_BASE_URL: fake.baseURL } : {}),
  },
  readyTimeoutMs: 180_000,
});
const registeredMs = Date.now() - workerStartedAt;

/** Job processes of the worker: children running the framework's job entry. */
const jobProcesses = () =>
  childPids(worker.pid!).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('job_proc_lazy_main');
    } catch {
      return false;
    }
  });

// Let the worker settle as a long-running one would be: its idle processes loaded.
const settleDeadline = Date.now() + 120_000;
const wantIdle = worker.logs.find((l) => l.msg === 'agent worker starting')?.idleProcesses;
while (Date.now() < settleDeadline) {
  const warm = worker.logs.filter((l) => l.msg === 'job process ready').length;
  if (typeof wantIdle !== 'number' || warm >= wantIdle) break;
  await sleep(100);
}
await sleep(2000);
const warmMs = Date.now() - workerStartedAt;

interface Result {
  phase: string;
  call: number;
  /** Until the caller is told its track was subscribed (LocalTrackSubscribed). */
  joinMs?: number;
  /** Until the agent's phonebridge.listening packet arrives. */
  listeningMs?: number;
  /** Wall clock at the start (createRoom), to line up with the worker's log. */
  startedAt?: number;
  dispatchMs: number;
  error?: string;
}

async function placeCall(phase: string, call: number): Promise<Result> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const room = `call-${callSid}`;
  const caller = new FakeCaller();
  const t0 = performance.now();
  const startedAt = Date.now();
  let subscribedAt: number | undefined;
  const subscribed = new Promise<void>((resolve) =>
    caller.room.on(RoomEvent.LocalTrackSubscribed, () => {
      subscribedAt ??= performance.now();
      resolve();
    }),
  );
  let dispatchMs = 0;
  try {
    await svc.createRoom({ name: room, emptyTimeout: 30, maxParticipants: 4 });
    const joining = caller.join(lk.url, await token(`phone-${call}`, room));
    await dispatcher.createDispatch(room, agentName, {
      metadata: JSON.stringify({ callSid, from: '+15550001111', to: '+15550002222' }),
    });
    dispatchMs = performance.now() - t0;
    await joining;
    await Promise.race([subscribed, sleep(30_000)]);
    if (subscribedAt === undefined) throw new Error('agent did not subscribe within 30 s');
    const joinMs = Math.round(subscribedAt - t0);
    // The agent's own "I read your track now" (phonebridge.listening), wall clock.
    const heard = () => caller.dataPackets.find((p) => p.topic === LISTENING_TOPIC);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !heard()) await sleep(10);
    const listening = heard();
    const listeningMs =
      listening && caller.subscribedAt !== undefined
        ? joinMs + listening.atMs - caller.subscribedAt
        : undefined;
    return { phase, call, joinMs, listeningMs, dispatchMs: Math.round(dispatchMs), startedAt };
  } catch (err) {
    return { phase, call, dispatchMs: Math.round(dispatchMs), error: (err as Error).message };
  } finally {
    const end = async () => {
      await sleep(holdMs);
      await caller.leave().catch(() => undefined);
      await svc.deleteRoom(room).catch(() => undefined);
    };
    void end();
  }
}

const results: Result[] = [];
const report = (r: Result) => {
  results.push(r);
  console.log(JSON.stringify(r));
};

if (calls > 0) {
  const running: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    const due = start + (i * 1000) / ratePerS;
    await sleep(Math.max(0, due - performance.now()));
    running.push(placeCall('rate', i).then(report));
  }
  await Promise.all(running);
  await sleep(holdMs + 5000);
}
if (burst > 0) {
  // Idle processes that served the rate phase are replaced one at a time: wait for them.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && jobProcesses().length < Number(wantIdle ?? 0)) await sleep(200);
  await sleep(2000);
  await Promise.all(Array.from({ length: burst }, (_, i) => placeCall('burst', i).then(report)));
  await sleep(holdMs + 1000);
}

const summary: Record<string, unknown> = {
  mode,
  production: values.production,
  compiled: values.compiled,
  idleProcesses: wantIdle,
  workerRegisteredMs: registeredMs,
  workerWarmMs: warmMs,
};
for (const phase of ['rate', 'burst']) {
  const ok = results.filter((r) => r.phase === phase && r.joinMs !== undefined);
  const ms = ok.map((r) => r.joinMs!).sort((a, b) => a - b);
  const listened = ok.map((r) => r.listeningMs ?? Infinity).sort((a, b) => a - b);
  if (!results.some((r) => r.phase === phase)) continue;
  summary[phase] = {
    calls: results.filter((r) => r.phase === phase).length,
    failed: results.filter((r) => r.phase === phase && r.error).length,
    p50Ms: pct(ms, 50),
    p95Ms: pct(ms, 95),
    maxMs: ms.at(-1),
    listeningP50Ms: pct(listened, 50),
    listeningP95Ms: pct(listened, 95),
    dispatchP50Ms: pct(
      ok.map((r) => r.dispatchMs).sort((a, b) => a - b),
      50,
    ),
  };
}
const ready = worker.logs.filter((l) => l.msg === 'job process ready');
const startups = ready.map((l) => Number(l.startupMs)).sort((a, b) => a - b);
summary.jobProcessStartupMs = { n: startups.length, p50: pct(startups, 50), max: startups.at(-1) };
console.log(JSON.stringify({ summary }));

await worker.stop();
await fake?.close();
await dispose();
await lk.stop();

async function token(identity: string, room: string): Promise<string> {
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity, ttl: 600 });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  return at.toJwt();
}
