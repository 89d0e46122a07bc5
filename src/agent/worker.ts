import { AgentServer, ServerOptions, initializeLogger } from '@livekit/agents';
import { RoomServiceClient } from 'livekit-server-sdk';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/schema.js';
import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { agentJobFile, withoutTypeScriptLoader } from './job-file.js';
import { DeadJobReaper } from './job-reaper.js';
import { forkOverflowJobs } from './proc-pool-overflow.js';
import { OpenAIKeyWatch } from './openai/preflight.js';

/** The file the framework forks per job (see job-file.ts). */
export const AGENT_JOB_FILE = agentJobFile();

/**
 * Idle job processes when AGENT_IDLE_PROCESSES is unset: the framework's production
 * default (one per core, at most 4), in every mode. Each costs one loaded Node process;
 * fewer means a burst of calls waits for forks, which the framework starts one at a time.
 */
export function defaultIdleProcesses(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/**
 * Job processes are forked with `process.execArgv` and `process.env`. When this process
 * runs TypeScript through tsx registered in-process (bin/phonebridge.js, vitest), execArgv
 * carries no loader and the child could not import `job.ts`. NODE_OPTIONS is inherited
 * through the environment, so we add tsx there, by absolute URL so any cwd works.
 */
export function ensureTypeScriptLoaderForChildren(agentFile = AGENT_JOB_FILE): void {
  if (!agentFile.endsWith('.ts')) return;
  const already = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (/(^|[\s=/])tsx(\/|\b)/.test(already)) return;
  // `tsx` resolves to its loader entry (dist/loader.mjs), the same file `--import tsx` runs.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${tsx}`.trim();
}

export interface AgentWorkerOptions {
  config: Config;
  logger: Logger;
  /**
   * Production applies the framework's CPU load threshold (0.7) and pre-forks idle job
   * processes; development takes every job and forks on demand.
   */
  production: boolean;
  /** Health/worker-info HTTP port; 0 picks a free one (default outside production). */
  httpPort?: number;
}

/** A running worker registered as AGENT_NAME; `close()` ends its jobs and child processes. */
export interface AgentWorker {
  readonly server: AgentServer;
  /** Resolves once the worker has registered with LiveKit. */
  readonly registered: Promise<string>;
  /** Settles when the worker stops (rejects on a fatal connection error). */
  readonly done: Promise<void>;
  close(opts?: { drain?: boolean }): Promise<void>;
}

/**
 * Starts the LiveKit Agents worker with our config instead of the framework's commander
 * CLI (`cli.runApp` parses process.argv and calls process.exit, neither of which suits a
 * subcommand or a test).
 */
export function startAgentWorker(opts: AgentWorkerOptions): AgentWorker {
  const { config, logger } = opts;
  if (!config.LIVEKIT_URL || !config.LIVEKIT_API_KEY || !config.LIVEKIT_API_SECRET) {
    throw new PbError(
      'PB_ERR_CONFIG',
      'LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are required to run the agent worker (or use `phonebridge dev`)',
    );
  }
  // The framework's own logger must exist before any of its classes are constructed; its
  // options are also handed to every job process.
  initializeLogger({ pretty: false, level: frameworkLevel(config.LOG_LEVEL) });
  ensureTypeScriptLoaderForChildren();
  // A compiled job file needs no TypeScript loader; forks inherit execArgv (see job-file.ts).
  if (/\.m?js$/.test(AGENT_JOB_FILE)) process.execArgv = withoutTypeScriptLoader(process.execArgv);

  // OpenAI mode: one key check before the first job process is forked (which inherits the
  // verdict), then at most one every 30 s as jobs arrive; none on a call's path.
  const keyWatch = config.AGENT_MODE === 'openai' ? new OpenAIKeyWatch(config, logger) : undefined;
  const idleProcesses = config.AGENT_IDLE_PROCESSES ?? defaultIdleProcesses();
  const server = new AgentServer(
    new ServerOptions({
      agent: AGENT_JOB_FILE,
      // The framework pre-forks only in production (0 in dev, where Python's agents reload
      // code on change; this one never does). Without idle processes every call waits for
      // a fork that loads Node, the framework and our code: seconds under tsx. So we keep
      // them in every mode; the job file imports its mode in `prewarm` (job.ts).
      numIdleProcesses: idleProcesses,
      agentName: config.AGENT_NAME,
      wsURL: config.LIVEKIT_URL,
      apiKey: config.LIVEKIT_API_KEY,
      apiSecret: config.LIVEKIT_API_SECRET,
      production: opts.production,
      // Development: report no load at all. The framework would report this machine's CPU
      // use, and livekit-server stops sending jobs to a worker whose load looks like 1.0
      // even when the threshold is off, which on a busy laptop or CI means no second call.
      ...(opts.production ? {} : { loadFunc: async () => 0 }),
      requestFunc: async (req) => {
        keyWatch?.refresh();
        await req.accept();
      },
      port: opts.httpPort ?? (opts.production ? 8081 : 0),
      logLevel: frameworkLevel(config.LOG_LEVEL),
      drainTimeout: config.DRAIN_TIMEOUT_MS,
      // The framework's 10 s is tight when several calls fork at once on a small, busy host
      // (each job process loads the framework, and under tsx transpiles our sources).
      initializeProcessTimeout: config.AGENT_PROCESS_INIT_TIMEOUT_MS,
    }),
  );
  const registered = new Promise<string>((resolve) =>
    server.event.once('worker_registered', (id: string) => resolve(id)),
  );
  logger.info(
    {
      agentName: config.AGENT_NAME,
      mode: config.AGENT_MODE,
      production: opts.production,
      idleProcesses,
      jobFile: AGENT_JOB_FILE,
    },
    'agent worker starting',
  );
  const reaper = new DeadJobReaper(
    server,
    new RoomServiceClient(
      config.LIVEKIT_URL.replace(/^ws/, 'http'),
      config.LIVEKIT_API_KEY,
      config.LIVEKIT_API_SECRET,
    ),
    logger,
  );
  reaper.start();
  let closing: Promise<void> | undefined;
  let running = false;
  const ready = Promise.all([
    keyWatch?.check(),
    // Before the first job: a burst beyond the idle processes forks at once (see there).
    forkOverflowJobs(logger),
  ]).then(() => undefined);
  const done = (async () => {
    await ready;
    // Closed while the key was being checked: the server never runs.
    if (closing) return;
    running = true;
    await server.run();
  })();
  // `done` is awaited by the caller; this only keeps a fatal error from going unhandled
  // when nobody awaits it yet.
  done.catch(() => undefined);

  return {
    server,
    registered,
    done,
    close({ drain = false } = {}) {
      closing ??= (async () => {
        if (drain) {
          await server.drain().catch((err: unknown) => logger.warn({ err }, 'drain incomplete'));
        }
        await ready;
        // close() of a server that never ran would wait for a run that never ends.
        if (running) await server.close();
        await reaper.stop();
        logger.info('agent worker stopped');
      })();
      return closing;
    },
  };
}

/** The framework's logger knows no `silent`. */
function frameworkLevel(level: Config['LOG_LEVEL']): string {
  return level === 'silent' ? 'fatal' : level;
}
