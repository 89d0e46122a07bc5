import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { readdirSync, readFileSync } from 'node:fs';

const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The compiled CLI (`npm run build`). */
export const COMPILED_ENTRY = fileURLToPath(new URL('../../../dist/cli/entry.js', import.meta.url));

export interface WorkerProcessOptions {
  /** Environment on top of a minimal base (PATH, HOME); LIVEKIT_* and AGENT_* go here. */
  env: Record<string, string>;
  /** Which CLI command to run: `agent` (default) or `responder`. */
  command?: 'agent' | 'responder';
  /** Extra CLI arguments. */
  args?: string[];
  /** `agent --production` instead of `--dev`. */
  production?: boolean;
  /** Run the compiled CLI in dist/ (needs `npm run build`) instead of the sources under tsx. */
  compiled?: boolean;
  /** Log line (pino `msg`) that says the process is ready. */
  readyMsg?: string;
  readyTimeoutMs?: number;
  /** Receives every parsed JSON log line (for assertions on logs). */
  onLog?: (line: Record<string, unknown>) => void;
}

/**
 * `phonebridge agent|responder` as a real subprocess, the way production runs it: its own
 * process group is not needed because the CLI stops its job children on SIGTERM.
 */
export class WorkerProcess {
  readonly logs: Record<string, unknown>[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(opts: WorkerProcessOptions): Promise<WorkerProcess> {
    const command = opts.command ?? 'agent';
    const mode = command === 'agent' ? [opts.production ? '--production' : '--dev'] : [];
    const entry = opts.compiled ? [COMPILED_ENTRY] : ['--import', 'tsx', ENTRY];
    const child = spawn(process.execPath, [...entry, command, ...mode, ...(opts.args ?? [])], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        LOG_LEVEL: 'info',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() and our exit hook reach the job and inference
      // processes it forks even if it cannot stop them itself.
      detached: true,
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    installExitHook();
    const wp = new WorkerProcess(child);
    const readyMsg =
      opts.readyMsg ?? (command === 'agent' ? 'agent worker registered' : 'responder started');
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${command} not ready after ${opts.readyTimeoutMs ?? 90_000} ms`)),
        opts.readyTimeoutMs ?? 90_000,
      );
      const onLine = (text: string) => {
        if (!text.startsWith('{')) {
          if (process.env.PB_TEST_VERBOSE) process.stderr.write(`[${command}] ${text}\n`);
          return;
        }
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          wp.logs.push(line);
          opts.onLog?.(line);
          if (process.env.PB_TEST_VERBOSE) process.stderr.write(`[${command}] ${text}\n`);
          if (line.msg === readyMsg) {
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // Not a log line.
        }
      };
      createInterface({ input: child.stdout }).on('line', onLine);
      createInterface({ input: child.stderr }).on('line', onLine);
      void wp.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${command} exited with ${code} before it was ready`));
      });
    });
    try {
      await ready;
    } catch (err) {
      await wp.stop();
      throw err;
    }
    return wp;
  }

  /** Waits for a log line matching `match`, looking at lines already seen first. */
  async waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 20_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * SIGTERM to the worker (it stops its own children), then SIGKILL to its whole process
   * group after `graceMs`; resolves with the worker's exit code.
   */
  async stop(graceMs = 15_000): Promise<number | null> {
    const pid = this.child.pid;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(pid), graceMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    // Anything of the group still alive (a job process that ignored its parent) goes too.
    killGroup(pid);
    return this.exited;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test process that ends early (timeout, crash) must not leave workers behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child.pid);
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Direct children of `pid`, from /proc (Linux). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Whether a process exists (and is not a zombie we are about to reap). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A dev-mode worker on the LiveKit server `lk`, with `env` on top of its credentials. */
export function startWorker(
  lk: { url: string; apiKey: string; apiSecret: string },
  env: Record<string, string>,
): Promise<WorkerProcess> {
  return WorkerProcess.start({
    env: {
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      ...env,
    },
  });
}
