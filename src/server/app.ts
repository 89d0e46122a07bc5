import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawServerDefault,
} from 'fastify';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import websocket from '@fastify/websocket';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { LiveKitApi } from '../livekit/rooms.js';
import { CallRegistry } from '../bridge/call-registry.js';
import type { Call, EndReason } from '../bridge/call.js';
import { noCallControl, twilioCallControl, type CallControl } from '../twilio/call-control.js';
import type { ServerContext } from './context.js';
import { createMetrics } from './metrics.js';
import { SharedSlots } from '../bridge/shared-slots.js';
import { incomingCallRoute } from './routes/incoming-call.js';
import { callsApiRoutes } from './routes/calls-api.js';
import { outboundCallRoutes } from './routes/outbound-call.js';
import { MemoryCallRecords, RedisCallRecords } from '../bridge/call-records.js';
import { callStatusRoute } from './routes/call-status.js';
import { healthRoutes } from './routes/health.js';
import { mediaStreamRoute, MAX_STREAM_MESSAGE_BYTES } from './routes/media-stream.js';

export interface ServerDeps {
  config: Config;
  log: Logger;
  callControl?: CallControl;
}

export interface PhonebridgeServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Stops admitting, lets calls finish up to DRAIN_TIMEOUT_MS, ends the rest, closes. */
  shutdown(): Promise<void>;
}

/** Builds the HTTP/WebSocket face of phonebridge. Nothing listens until `app.listen`. */
export async function buildServer(deps: ServerDeps): Promise<PhonebridgeServer> {
  const { config, log } = deps;
  if (!config.LIVEKIT_URL || !config.LIVEKIT_API_KEY || !config.LIVEKIT_API_SECRET) {
    throw new Error('buildServer needs LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET');
  }
  const metrics = createMetrics();
  metrics.capacity.set(config.MAX_CONCURRENT_CALLS);
  const livekit = new LiveKitApi({
    url: config.LIVEKIT_URL,
    apiKey: config.LIVEKIT_API_KEY,
    apiSecret: config.LIVEKIT_API_SECRET,
  });
  const callControl =
    deps.callControl ??
    (config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN
      ? twilioCallControl(
          config.TWILIO_ACCOUNT_SID,
          config.TWILIO_AUTH_TOKEN,
          log,
          config.TWILIO_API_BASE_URL,
        )
      : noCallControl);

  const sharedSlots = config.REDIS_URL
    ? await SharedSlots.connect({
        url: config.REDIS_URL,
        limit: config.MAX_CONCURRENT_CALLS,
        ttlMs: config.SHARED_SLOT_TTL_MS,
        log,
      })
    : undefined;
  const onEnded = async (call: Call, reason: EndReason): Promise<void> => {
    metrics.callsEnded.inc({ reason });
    await sharedSlots?.release(call.callSid).catch((err: unknown) => {
      call.log.warn(
        { err: (err as Error).message },
        'Could not release the shared call slot; it expires on its own',
      );
    });
    metrics.callDuration.observe(call.durationMs() / 1000);
    try {
      const deleted = await livekit.deleteRoom(call.room);
      if (deleted) call.log.info({ room: call.room }, `Deleted room '${call.room}'`);
    } catch (err) {
      call.log.warn(
        { err: (err as Error).message, room: call.room },
        'Could not delete room; LiveKit will close it when empty',
      );
    }
    call.log.info(
      { reason, durationMs: call.durationMs() },
      `Call ended (${reason}) after ${(call.durationMs() / 1000).toFixed(1)} s`,
    );
  };
  const registry = new CallRegistry({
    capacity: config.MAX_CONCURRENT_CALLS,
    streamStartTimeoutMs: config.STREAM_START_TIMEOUT_MS,
    onEnded,
  });
  metrics.setActiveSource(() => registry.active);

  const ctx: ServerContext = {
    config,
    log,
    metrics,
    livekit,
    registry,
    callControl,
    sharedSlots,
    records: await openCallRecords(config, log),
    // Derived, not random, so every instance behind a load balancer verifies the same tokens.
    streamTokenSecret: deriveStreamSecret(config),
    state: { draining: false, startedAt: Date.now() },
  };

  // Typed as the default instance: pino's Logger is a FastifyBaseLogger, and the routes are written for that.
  const app: FastifyInstance = Fastify<
    RawServerDefault,
    IncomingMessage,
    ServerResponse,
    FastifyBaseLogger
  >({
    loggerInstance: log,
    // Our own lines tell each call's story; per-request access logs would drown them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: true,
    return503OnClosing: false,
  });
  await app.register(formbody);
  await app.register(rateLimit, {
    global: false,
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
  });
  await app.register(websocket, { options: { maxPayload: MAX_STREAM_MESSAGE_BYTES } });
  app.setErrorHandler(
    (err: { statusCode?: number; message: string; code?: string }, req, reply) => {
      const status =
        err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      if (status >= 500) req.log.error({ err }, 'Request failed');
      else
        req.log.warn({ code: err.code, reason: err.message, route: req.url }, 'Rejected request');
      return reply
        .code(status)
        .type('text/plain')
        .send(status >= 500 ? 'Internal Server Error' : `${statusText(status)}: ${err.message}`);
    },
  );
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type('text/plain')
      .send(`Not Found: ${req.method} ${req.url.split('?')[0]}`),
  );

  app.addHook('onClose', () => ctx.records.close());
  incomingCallRoute(app, ctx);
  callStatusRoute(app, ctx);
  outboundCallRoutes(app, ctx);
  await callsApiRoutes(app, ctx);
  healthRoutes(app, ctx);
  mediaStreamRoute(app, ctx);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (shuttingDown ??= (async () => {
      ctx.state.draining = true;
      log.info(
        { active: registry.active, drainTimeoutMs: config.DRAIN_TIMEOUT_MS },
        'Draining: no new calls; waiting for active calls to finish',
      );
      const deadline = Date.now() + config.DRAIN_TIMEOUT_MS;
      while (registry.active > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      if (registry.active > 0)
        log.warn({ active: registry.active }, 'Drain timeout reached; ending remaining calls');
      await registry.endAll('shutdown');
      await app.close();
      await sharedSlots?.close();
      log.info('Shutdown complete');
    })());

  return { app, ctx, shutdown };
}

/** Records live in Redis when the fleet shares it and the API places calls. */
async function openCallRecords(config: Config, log: Logger) {
  if (config.REDIS_URL && config.PHONEBRIDGE_API_KEY?.length)
    return RedisCallRecords.connect({
      url: config.REDIS_URL,
      ttlSeconds: config.CALL_RECORD_TTL_SECONDS,
      log,
    });
  return new MemoryCallRecords(config.CALL_RECORD_TTL_SECONDS);
}

function deriveStreamSecret(config: Config): string {
  const seed = config.LIVEKIT_API_SECRET ?? config.TWILIO_AUTH_TOKEN;
  if (!seed) return randomBytes(32).toString('hex');
  return `phonebridge-stream-token:${seed}`;
}

function statusText(code: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    403: 'Forbidden',
    404: 'Not Found',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
  };
  return texts[code] ?? 'Error';
}
