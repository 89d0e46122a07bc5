import type { TestProject } from 'vitest/node';
import { LocalLiveKit } from '../../src/livekit/local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    livekit: { url: string; apiKey: string; apiSecret: string; pid: number };
  }
}

/** One real livekit-server for the whole run, on free loopback ports with fresh keys. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lk = await LocalLiveKit.start({ onProgress: (l) => console.error(l) });
  project.provide('livekit', {
    url: lk.url,
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    pid: lk.pid ?? 0,
  });
  return () => lk.stop();
}
