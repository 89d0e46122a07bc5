import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { freeTcpPort } from '../../src/livekit/local.js';
import { waitFor } from './livekit.js';

/**
 * Whether Debian's redis-server can be run here. The project cannot install a system
 * service itself: outside CI a test that needs it skips with one visible line naming the
 * package; under CI (where .ci/run installs it) a missing server is a failure.
 */
export function redisServerAvailable(): boolean {
  const ok = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (ok) return true;
  if (process.env.CI === 'true')
    throw new Error('redis-server is not installed (apt-get install redis-server); CI needs it');
  console.warn(
    'SKIP: redis-server not installed (apt-get install redis-server); Redis tests skipped',
  );
  return false;
}

/** A throwaway redis-server (Debian's) on a free loopback port, no persistence. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freeTcpPort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = createConnection(port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    10_000,
    'redis-server',
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}
