import type { TestProject } from 'vitest/node';
import { LocalLiveKit } from '../../src/livekit/local.js';
import { ensureEngine } from '../../src/engine/build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    livekit: { url: string; apiKey: string; apiSecret: string; pid: number };
  }
}

/** One real livekit-server for the whole run, on free loopback ports with fresh keys. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Built (or found in the cache) once, before any test's clock starts.
  await ensureEngine({ onProgress: (l) => console.error(l) });
  const lk = await LocalLiveKit.start({ onProgress: (l) => console.error(l) });
  project.provide('livekit', {
    url: lk.url,
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    pid: lk.pid ?? 0,
  });
  return () => lk.stop();
}
