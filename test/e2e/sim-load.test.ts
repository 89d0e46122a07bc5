import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirror, type RunningMirror } from '../../src/engine/mirror.js';
import { createLogger } from '../../src/log.js';
import { LocalLiveKit } from '../../src/livekit/local.js';
import { startServer, type RunningServer } from '../../src/server/start.js';
import { waitFor } from '../helpers/livekit.js';
import { AUTH_TOKEN, testConfig } from '../helpers/phonebridge.js';

// Its own livekit-server: the mirror joins every `call-*` room it sees, and must not
// wander into rooms of test files running beside this one.
describe('phonebridge load: 10 concurrent calls against the mirror agent', () => {
  let lk: LocalLiveKit;
  let server: RunningServer;
  let mirror: RunningMirror;

  beforeAll(async () => {
    lk = await LocalLiveKit.start();
    const log = createLogger({ level: 'warn' });
    const config = testConfig(lk);
    server = await startServer(config, log);
    mirror = await startMirror({ url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret, log });
  });

  afterAll(async () => {
    await mirror?.stop();
    await server?.shutdown();
    await lk?.stop();
  });

  it('completes every call with zero failures and measures the round trip', async () => {
    const child = spawn(
      process.execPath,
      [
        'bin/phonebridge.js',
        'load',
        '--url',
        server.url,
        '--auth-token',
        AUTH_TOKEN,
        '--calls',
        '10',
        '--ramp',
        '5',
        // Long enough that a call whose mirror joined seconds late (a loaded machine: one
        // call of ten in 6 s calls had no burst back) still hears its bursts return.
        '--duration',
        '10',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    const report = JSON.parse(out) as Record<string, any>;
    expect(code).toBe(0);
    expect(report.calls).toMatchObject({ ok: 10, failed: 0, rejected: 0 });
    expect(report.latency.kind).toBe('round-trip');
    // Every call heard its own bursts come back, not just some of them.
    const latency = JSON.stringify(report.latency);
    expect(report.latency.callsMeasured, latency).toBe(10);
    expect(report.latency.samples, latency).toBeGreaterThanOrEqual(10);
    expect(report.server.peakConcurrentCalls).toBeGreaterThan(1);
    // The last calls' stop messages may still be in flight when the load process exits.
    await waitFor(() => server.ctx.registry.active === 0, 10_000, 'every call to end');
    await server.ctx.registry.settled();
  });
});
