import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config/load.js';
import { createLogger } from '../log.js';
import { startMirror } from '../engine/mirror.js';

const HELP = `Usage: phonebridge responder [--poll-ms N] [--room-prefix call-]

Serves every call-* room from one process as a mirror agent: it joins as an agent-kind
participant and plays the caller's audio back as Opus, as a real agent would publish it
(the media engine's mirror mode). For load tests: run the server with AGENT_DISPATCH=false
so no framework agent is dispatched as well. Reads LIVEKIT_URL, LIVEKIT_API_KEY and
LIVEKIT_API_SECRET.`;

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
  const pollMs = values['poll-ms'] === undefined ? 250 : Number(values['poll-ms']);
  if (!Number.isInteger(pollMs) || pollMs < 20) {
    console.error('--poll-ms must be a whole number of milliseconds, at least 20');
    return 2;
  }
  const config = loadConfig();
  requireSettings(config, ['livekit']);
  const log = createLogger({ level: config.LOG_LEVEL, name: 'phonebridge-responder' });
  const mirror = await startMirror({
    url: config.LIVEKIT_URL!,
    apiKey: config.LIVEKIT_API_KEY!,
    apiSecret: config.LIVEKIT_API_SECRET!,
    log,
    roomPrefix: values['room-prefix'],
    pollMs,
    logLevel: config.LOG_LEVEL,
  });
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping responder');
    void mirror.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await mirror.exited;
    return code === 0 || code === null ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
