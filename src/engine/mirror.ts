import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Logger } from '../log.js';
import { ensureEngine } from './build.js';
import { relayEngineLog } from './log-relay.js';

export interface MirrorOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  log: Logger;
  binary?: string;
  roomPrefix?: string;
  pollMs?: number;
  logLevel?: string;
}

export interface RunningMirror {
  readonly pid: number | undefined;
  /** Settles when the mirror process exits, with its exit code. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts the media engine's mirror agent: one process that joins every call-* room as an
 * AGENT-kind participant and plays each caller back as Opus (load tests, AGENT_MODE=mirror).
 * The API secret goes through the environment, never the command line.
 */
export async function startMirror(opts: MirrorOptions): Promise<RunningMirror> {
  const binary = await ensureEngine({ binary: opts.binary });
  const args = [
    'mirror',
    '--room-prefix',
    opts.roomPrefix ?? 'call-',
    '--poll',
    `${opts.pollMs ?? 250}ms`,
    '--log-level',
    opts.logLevel ?? 'info',
  ];
  const child = spawn(binary, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      LIVEKIT_URL: opts.url,
      LIVEKIT_API_KEY: opts.apiKey,
      LIVEKIT_API_SECRET: opts.apiSecret,
    },
  });
  relayEngineLog(child.stderr, opts.log, child.pid);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
