import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config/load.js';
import { describeError } from '../errors.js';
import { createLogger } from '../log.js';
import { installFfiFinalizerGuard } from '../livekit/ffi-guard.js';

const HELP = `Usage: phonebridge agent [--production | --dev]

Runs the LiveKit Agents worker registered as AGENT_NAME. The webhook dispatches it into
each call's room. AGENT_MODE picks openai, echo, loopback or mirror (default: openai when
OPENAI_API_KEY is set, else echo).

  --production  apply the CPU load threshold and pre-fork idle job processes
                (default when NODE_ENV=production)
  --dev         take every job, fork processes on demand (default otherwise)`;

/** `phonebridge agent`: the worker until SIGINT/SIGTERM. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      production: { type: 'boolean' },
      dev: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = loadConfig();
  requireSettings(config, ['livekit']);
  // The mirror is the media engine's agent, one process for every room, not a framework worker.
  if (config.AGENT_MODE === 'mirror') return (await import('./responder.js')).run([]);
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'phonebridge-agent' });
  installFfiFinalizerGuard(logger);
  const production = values.production ?? (values.dev ? false : config.NODE_ENV === 'production');

  const { startAgentWorker } = await import('../agent/worker.js');
  const worker = startAgentWorker({ config, logger, production });
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(130);
    }
    signalled = sig;
    logger.info({ signal: sig }, 'stopping agent worker');
    worker.close({ drain: production }).catch((err: unknown) => {
      logger.error({ err: describeError(err) }, 'agent worker did not stop cleanly');
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const id = await Promise.race([worker.registered, worker.done.then(() => undefined)]);
    if (id) logger.info({ workerId: id, agentName: config.AGENT_NAME }, 'agent worker registered');
    await worker.done;
  } catch (err) {
    logger.error({ err: describeError(err) }, 'agent worker failed');
    await worker.close();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // The framework's job and inference processes are gone; rtc-node's native runtime in this
  // process (if any) must be released or Node will not exit.
  const { dispose } = await import('@livekit/rtc-node');
  await dispose();
  return signalled ? 0 : 1;
}
