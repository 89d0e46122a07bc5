// Measures POST /incoming-call latency against a local livekit-server: N signed webhooks
// one after another (each creates a room and an agent dispatch), each call then ended by
// a signed status callback. Prints p50/p95/p99. Usage: npx tsx scripts/webhook-latency.ts [N]
import { randomBytes } from 'node:crypto';
import { dispose } from '@livekit/rtc-node';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { LocalLiveKit } from '../src/livekit/local.js';
import { startServer } from '../src/server/start.js';
import { twilioSignature } from '../src/twilio/signature.js';

const n = Number(process.argv[2] ?? 200);
const token = randomBytes(16).toString('hex');
const lk = await LocalLiveKit.start();
const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  LIVEKIT_URL: lk.url,
  LIVEKIT_API_KEY: lk.apiKey,
  LIVEKIT_API_SECRET: lk.apiSecret,
  TWILIO_AUTH_TOKEN: token,
  RATE_LIMIT_MAX: '1000000',
  DRAIN_TIMEOUT_MS: '0',
});
const server = await startServer(config, createLogger({ level: 'warn' }));

async function post(path: string, params: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSignature(token, `${server.url}${path}`, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  await res.text();
  if (res.status >= 300) throw new Error(`${path} answered ${res.status}`);
  return performance.now() - t0;
}

const times: number[] = [];
for (let i = 0; i < n + 20; i++) {
  const params = {
    CallSid: 'CA' + randomBytes(16).toString('hex'),
    AccountSid: 'AC' + '1'.repeat(32),
    From: '+15551234567',
    To: '+15557654321',
    CallStatus: 'ringing',
  };
  const ms = await post('/incoming-call', params);
  if (i >= 20) times.push(ms); // the first 20 warm up JIT and connections
  await post('/call-status', { ...params, CallStatus: 'completed' });
}
await server.ctx.registry.settled();
times.sort((a, b) => a - b);
const pct = (p: number) =>
  times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!.toFixed(2);
console.log(
  JSON.stringify({
    requests: n,
    p50Ms: pct(50),
    p95Ms: pct(95),
    p99Ms: pct(99),
    maxMs: times.at(-1)!.toFixed(2),
  }),
);
await server.shutdown();
await dispose();
await lk.stop();
