import type { Config } from '../config/schema.js';
import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { buildServer, type PhonebridgeServer } from './app.js';
import { checkSipProvisioning } from './sip-check.js';

export interface RunningServer extends PhonebridgeServer {
  /** http://host:port the server listens on. */
  url: string;
  port: number;
}

/**
 * Checks what can be checked before taking traffic, then listens. A wrong LiveKit
 * credential stops start-up with one line naming the variables; an unreachable
 * LiveKit does not (it may come up later), but /health reports it.
 */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const server = await buildServer({ config, log });
  const health = await server.ctx.livekit.checkHealth();
  if (!health.ok && /rejected/.test(health.reason ?? '')) {
    await server.shutdown(); // the media engine too, or it would keep the process alive
    throw new PbError(
      'PB_ERR_LIVEKIT_AUTH',
      `LIVEKIT_API_KEY/LIVEKIT_API_SECRET: ${health.reason} at ${config.LIVEKIT_URL}`,
    );
  }
  if (health.ok && config.BRIDGE_MODE === 'sip') {
    try {
      await checkSipProvisioning(config, log);
    } catch (err) {
      await server.shutdown(); // also closes the Redis connection of shared slots
      throw err;
    }
  }
  if (!health.ok)
    log.warn(
      { reason: health.reason },
      'LiveKit is not reachable yet; /health reports degraded until it is',
    );
  if (!config.TWILIO_VALIDATE_SIGNATURE) {
    log.warn(
      'TWILIO_VALIDATE_SIGNATURE=false: anyone who can reach this server can place calls. Never run like this in production.',
    );
  }
  if (!config.PUBLIC_URL) {
    log.info(
      'PUBLIC_URL is not set: signatures and stream URLs use X-Forwarded-Proto/X-Forwarded-Host or Host from each request',
    );
  }
  if (config.PHONEBRIDGE_API_KEY?.length) warnOutbound(config, log);
  await server.app.listen({ port: config.PORT, host: config.HOST });
  const addr = server.app.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return { ...server, url: `http://${host}:${port}`, port };
}

/** The outbound API starts with what it has, but says what will refuse calls. */
function warnOutbound(config: Config, log: Logger): void {
  if (config.OUTBOUND_ALLOWED_PREFIXES.length === 0)
    log.warn('OUTBOUND_ALLOWED_PREFIXES is empty: POST /calls refuses every number (403)');
  if (!config.TWILIO_FROM_NUMBER)
    log.warn('TWILIO_FROM_NUMBER is not set: every POST /calls must give `from`');
  if (!config.PUBLIC_URL)
    log.warn(
      "PUBLIC_URL is not set: Twilio's callbacks for outbound calls go to the host each API request named",
    );
}
