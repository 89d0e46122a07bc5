import { describe } from 'vitest';
import { LocalRedis, hasRedisServer } from '../../src/livekit/redis-server.js';

/** A throwaway redis-server (Debian's) on a free loopback port, no persistence. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const redis = await LocalRedis.start();
  return { url: redis.url, stop: () => redis.stop() };
}

/**
 * `describe`, or, when redis-server is not installed outside CI, `describe.skip` with one
 * line saying which package to install. Under CI=true the tests run and fail on start-up:
 * CI installs the package, so a missing one is a broken CI machine.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (!hasRedisServer() && process.env.CI !== 'true') {
    console.warn(`skipping "${name}": redis-server is not installed (Debian package redis-server)`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}
