import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { freeTcpPort } from '../../src/livekit/local.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { livekit, roomService, waitFor } from '../helpers/livekit.js';
import {
  AUTH_TOKEN,
  callParams,
  callSid,
  parseTwimlXml,
  streamParams,
  twilioPost,
} from '../helpers/phonebridge.js';
import { TwilioStream } from '../helpers/twilio-stream.js';

describe('phonebridge serve: graceful shutdown', () => {
  it('on SIGTERM drains: health says draining, new calls get busy, active calls end, rooms go, exit 0', async () => {
    const lk = livekit();
    const port = await freeTcpPort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, ['bin/phonebridge.js', 'serve'], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        LIVEKIT_URL: lk.url,
        LIVEKIT_API_KEY: lk.apiKey,
        LIVEKIT_API_SECRET: lk.apiSecret,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        AGENT_DISPATCH: 'false',
        DRAIN_TIMEOUT_MS: '2500',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    try {
      await waitFor(
        () => lines.some((l) => l.includes('phonebridge ready on')),
        20_000,
        'server ready',
      );
      const sid = callSid();
      const twiml = parseTwimlXml(
        await (await twilioPost(url, '/incoming-call', callParams(sid))).text(),
      );
      const agent = await FakeAgent.join(`call-${sid}`, 'agent-test', { publish: false });
      const stream = await TwilioStream.open(url);
      stream.start(sid, streamParams(twiml));
      await waitFor(
        () => lines.some((l) => l.includes('Published phone audio track')),
        10_000,
        'bridge up',
      );
      // The call's LiveKit leg is in the media engine: no native WebRTC library is loaded
      // into the Node process, and the engine is its child.
      const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      expect(maps).not.toMatch(/rtc-ffi-bindings|rtc-node|livekit_ffi/);
      expect(lines.some((l) => l.includes('Media engine ready'))).toBe(true);

      child.kill('SIGTERM');
      await waitFor(
        async () => {
          const res = await fetch(`${url}/health`).catch(() => undefined);
          return (res && ((await res.json()) as { status: string }).status === 'draining') ?? false;
        },
        5000,
        'draining',
      );
      const busy = parseTwimlXml(
        await (await twilioPost(url, '/incoming-call', callParams(callSid()))).text(),
      );
      expect(busy.Response.Reject['@reason']).toBe('busy');

      await stream.closed; // ended by the drain timeout
      expect(stream.closeReason).toBe('shutdown');
      const [code] = await exited;
      expect(code).toBe(0);
      expect((await roomService().listRooms()).map((r) => r.name)).not.toContain(`call-${sid}`);
      expect(lines.some((l) => l.includes('Shutdown complete'))).toBe(true);
      await agent.leave();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('fails at start-up with one line naming a wrong LiveKit credential', async () => {
    const lk = livekit();
    const child = spawn(process.execPath, ['bin/phonebridge.js', 'serve'], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        LIVEKIT_URL: lk.url,
        LIVEKIT_API_KEY: lk.apiKey,
        LIVEKIT_API_SECRET: 'definitely-not-the-secret-0123456789',
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/LIVEKIT_API_KEY\/LIVEKIT_API_SECRET/);
    expect(stderr).not.toContain('definitely-not-the-secret');
  });

  it('fails at start-up with one line naming every missing variable', async () => {
    const env = { ...process.env };
    for (const k of ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'TWILIO_AUTH_TOKEN'])
      delete env[k];
    const child = spawn(process.execPath, ['bin/phonebridge.js', 'serve'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/LIVEKIT_URL is not set/);
    expect(stderr).toMatch(/TWILIO_AUTH_TOKEN is not set/);
  });
});
