import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config/load.js';
import { createLogger } from '../log.js';
import { installFfiFinalizerGuard } from '../livekit/ffi-guard.js';

const HELP = `Usage: phonebridge responder [--poll-ms N] [--room-prefix call-]

Serves every call-* room from this one process as a loopback agent (mirrors the caller's
audio back). For load tests: run the server with AGENT_DISPATCH=false so no framework agent
is dispatched as well. Reads LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.`;

/** `phonebridge responder`: runs until SIGINT/SIGTERM, then leaves every room. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'poll-ms': { type: 'string' },
      'room-prefix': { type: 'string', default: 'call-' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const pollIntervalMs = values['poll-ms'] === undefined ? 250 : Number(values['poll-ms']);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 20) {
    console.error('--poll-ms must be a whole number of milliseconds, at least 20');
    return 2;
  }
  const config = loadConfig();
  requireSettings(config, ['livekit']);
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'phonebridge-responder' });
  installFfiFinalizerGuard(logger);
  const { LoopbackResponder } = await import('../agent/responder.js');
  const { dispose } = await import('@livekit/rtc-node');

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    logger.info({ signal: sig }, 'stopping responder');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await new LoopbackResponder({
      url: config.LIVEKIT_URL!,
      apiKey: config.LIVEKIT_API_KEY!,
      apiSecret: config.LIVEKIT_API_SECRET!,
      logger,
      pollIntervalMs,
      roomPrefix: values['room-prefix'],
    }).start(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // rtc-node's native runtime keeps the process alive until disposed.
    await dispose();
  }
  return 0;
}
