import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { describe } from 'vitest';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { freeTcpPort } from '../../src/livekit/local.js';
import { waitFor } from './livekit.js';

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

/** True when Debian's redis-server is on PATH. */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `describe` for tests that need redis-server, which the project cannot install: outside CI
 * they are skipped with one visible line naming the package; in CI (CI=true) they run, and
 * fail without it.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (redisServerInstalled() || process.env.CI === 'true') {
    describe(name, fn);
    return;
  }
  console.warn(`skipping "${name}": redis-server is not installed (Debian package redis-server)`);
  describe.skip(name, fn);
}
