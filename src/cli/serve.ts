import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config/load.js';
import { createLogger } from '../log.js';
import { startServer } from '../server/start.js';
import { onShutdownSignal } from './signals.js';

const HELP = `Usage: phonebridge serve

Runs the Twilio-facing server: POST /incoming-call, GET /media-stream (WebSocket),
POST /call-status, GET /health, GET /metrics, and supervises the media engine that
carries every call's LiveKit audio (built from engine/ on first use, or
PHONEBRIDGE_ENGINE_BIN). Needs LIVEKIT_URL, LIVEKIT_API_KEY,
LIVEKIT_API_SECRET and TWILIO_AUTH_TOKEN (see README.md for every variable).
With BRIDGE_MODE=sip it first checks LiveKit's SIP trunk and dispatch rule and stops,
saying what is missing, unless \`phonebridge sip setup\` has provisioned them.
SIGTERM/SIGINT drain active calls for up to DRAIN_TIMEOUT_MS, then exit 0.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = loadConfig();
  requireSettings(config, ['livekit', 'twilio-signature']);
  const log = createLogger({ level: config.LOG_LEVEL });
  const server = await startServer(config, log);
  log.info(
    { url: server.url, mode: config.BRIDGE_MODE, capacity: config.MAX_CONCURRENT_CALLS },
    `phonebridge ready on http://${config.HOST}:${server.port}`,
  );
  await onShutdownSignal(log);
  await server.shutdown();
  return 0;
}
