import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../log.js';

/** The parts of @livekit/agents 1.9's ProcPool (dist/ipc/proc_pool.js) this reaches into. */
interface PoolLike {
  closed: boolean;
  agent: string;
  procMutex?: unknown;
  warmedProcQueue?: { items: unknown[] };
  executors: ExecutorLike[];
  inferenceExecutor?: unknown;
  initializeTimeout: number;
  closeTimeout: number;
  sessionEndTimeout: number;
  memoryWarnMB: number;
  memoryLimitMB: number;
}

interface ExecutorLike {
  start(): Promise<void>;
  join(): Promise<void>;
  initialize(opts: { sessionEndTimeout: number }): Promise<void>;
  launchJob(info: unknown): Promise<void>;
  close(): Promise<void>;
}

type ExecutorClass = new (opts: Record<string, unknown>) => ExecutorLike;

const PATCHED = Symbol.for('phonebridge.procPoolOverflow');

/**
 * The framework keeps `numIdleProcesses` loaded job processes and starts replacements one
 * at a time; a job that finds none waits in line for them. A burst larger than the pool
 * then waits T, 2T, 3T… (T, one process start, is seconds on a busy 2-core host) with a
 * core idle. Patched here: such a job forks its own process at once, as the framework does
 * when it keeps no idle processes, while the pool keeps refilling behind it. At most
 * `maxForks` such forks run at once (with the pool's refill, one start per core): forking
 * a whole burst at once makes every start slow together, and on a loaded host all of them
 * overran the start-up timeout in one test run. A job beyond that takes whichever comes
 * first, an idle process or a free fork. A framework whose pool does not look like 1.9's
 * is left alone. Resolves true if applied.
 */
export async function forkOverflowJobs(
  logger: Logger,
  maxForks = Math.max(1, availableParallelism() - 1),
): Promise<boolean> {
  try {
    const dist = dirname(createRequire(import.meta.url).resolve('@livekit/agents'));
    const url = (file: string) => pathToFileURL(join(dist, file)).href;
    // The same URLs the framework's own worker.js imports: the same module instances.
    const { ProcPool } = (await import(url('ipc/proc_pool.js'))) as {
      ProcPool: { prototype: Record<string | symbol, unknown> };
    };
    const { JobProcExecutor } = (await import(url('ipc/job_proc_executor.js'))) as {
      JobProcExecutor: ExecutorClass;
    };
    const proto = ProcPool.prototype;
    if (proto[PATCHED]) return true;
    const original = proto.launchJob as (this: PoolLike, info: unknown) => Promise<void>;
    if (typeof original !== 'function' || typeof JobProcExecutor !== 'function') {
      logger.warn('the agent framework process pool has changed; bursts wait for idle processes');
      return false;
    }
    let forking = 0;
    proto.launchJob = async function (this: PoolLike, info: unknown): Promise<void> {
      const warm = this.warmedProcQueue?.items;
      if (!this.procMutex || !Array.isArray(warm)) return original.call(this, info);
      // Whichever comes first: an idle process (the pool's), or room for a fork of our own.
      // (The pool's queue has no event we can see: look every 50 ms.)
      while (warm.length === 0 && forking >= maxForks && !this.closed) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (warm.length > 0 || this.closed) return original.call(this, info);
      forking++;
      const proc = new JobProcExecutor({
        agent: this.agent,
        inferenceExecutor: this.inferenceExecutor,
        initializeTimeout: this.initializeTimeout,
        closeTimeout: this.closeTimeout,
        memoryWarnMB: this.memoryWarnMB,
        memoryLimitMB: this.memoryLimitMB,
        // The framework's own values for its job processes.
        pingInterval: 2500,
        pingTimeout: 60_000,
        highPingThreshold: 500,
      });
      const forget = () => {
        const i = this.executors.indexOf(proc);
        if (i !== -1) this.executors.splice(i, 1);
      };
      this.executors.push(proc);
      try {
        await proc.start();
        // Listed while it runs (activeJobs, close()), gone once it exits, like pool processes.
        void proc.join().then(forget, forget);
        await proc.initialize({ sessionEndTimeout: this.sessionEndTimeout });
      } catch (err) {
        forget();
        await proc.close().catch(() => undefined);
        throw err;
      } finally {
        forking--;
      }
      await proc.launchJob(info);
    };
    proto[PATCHED] = true;
    return true;
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'cannot reach the agent framework process pool; bursts wait for idle processes',
    );
    return false;
  }
}
