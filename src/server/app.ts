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
import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { LiveKitApi } from '../livekit/rooms.js';
import { CallRegistry } from '../bridge/call-registry.js';
import type { Call, EndReason } from '../bridge/call.js';
import { noCallControl, twilioCallControl, type CallControl } from '../twilio/call-control.js';
import type { ServerContext } from './context.js';
import { createMetrics } from './metrics.js';
import { SharedSlots } from '../bridge/shared-slots.js';
import { MediaEngine } from '../engine/engine.js';
import type { MediaLeg } from '../engine/media-leg.js';
import { EndedCalls } from '../bridge/ended-calls.js';
import { streamTokenLifetimeMs } from '../bridge/stream-token.js';
import { finishShared, followFleet, isStillOurs } from './fleet.js';
import { trustProxyOption, unsignedLimiter } from './unsigned-limit.js';
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
  /** The LiveKit media leg; a media engine is started (and stopped with the server) when absent. */
  media?: MediaLeg;
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

  // SIP mode never carries media: LiveKit SIP terminates the call.
  const engine =
    deps.media || config.BRIDGE_MODE === 'sip'
      ? undefined
      : await MediaEngine.start({
          log,
          logLevel: config.LOG_LEVEL,
          onRestart: () => metrics.engineRestarts.inc(),
        });
  if (engine) metrics.setEngineSource(engine);
  const media: MediaLeg = deps.media ?? engine ?? noMediaLeg;

  // Ended calls are remembered while their stream tokens could still be used (plus skew).
  const rememberMs = streamTokenLifetimeMs(config.STREAM_START_TIMEOUT_MS) + 5_000;
  const sharedSlots = config.REDIS_URL
    ? await SharedSlots.connect({
        url: config.REDIS_URL,
        limit: config.MAX_CONCURRENT_CALLS,
        ttlMs: config.SHARED_SLOT_TTL_MS,
        rememberMs,
        log,
      }).catch(async (err: unknown) => {
        await engine?.stop();
        throw err;
      })
    : undefined;
  const onEnded = async (call: Call, reason: EndReason): Promise<void> => {
    // A call that never streamed here may be carried by the instance its stream landed on
    // (ended here by a shutdown, say): its slot and room are that instance's. Redis says so
    // atomically; without it, LiveKit does (unless the call is over for sure anyway).
    const unsure = !call.streamSid && !CERTAIN_ENDS.has(reason);
    // A call turned away at admission never had a stream token out: nothing to remember.
    const remember = reason !== 'admission_failed';
    const ours = sharedSlots
      ? await finishShared(ctx, call, remember)
      : !unsure || (await isStillOurs(ctx, call).catch(() => true));
    if (!ours) {
      metrics.callsMoved.inc({ direction: 'released' });
      call.log.info('Another instance carries this call; leaving its slot and room to it');
      return;
    }
    if (remember) ctx.endedCalls.add(call.callSid);
    metrics.callsEnded.inc({ reason });
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
    isStillOurs: (call) => isStillOurs(ctx, call),
    onReleased: (call) => {
      sharedSlots?.forget(call.callSid);
      metrics.callsMoved.inc({ direction: 'released' });
    },
  });
  metrics.setActiveSource(() => registry.active);

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
    // Only the client address (the rate limit's key) depends on it; signature URLs are
    // rebuilt from PUBLIC_URL or the forwarded headers whatever it says.
    trustProxy: trustProxyOption(config.TRUST_PROXY),
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

  const ctx: ServerContext = {
    config,
    log,
    metrics,
    livekit,
    registry,
    callControl,
    media,
    engine,
    sharedSlots,
    endedCalls: new EndedCalls(rememberMs),
    records: await openCallRecords(config, log),
    // Derived, not random, so every instance behind a load balancer verifies the same tokens.
    streamTokenSecret: `phonebridge-stream-token:${config.LIVEKIT_API_SECRET}`,
    state: { draining: false, startedAt: Date.now() },
    unsignedLimit: unsignedLimiter(app, config),
  };
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
  try {
    incomingCallRoute(app, ctx);
    callStatusRoute(app, ctx);
    outboundCallRoutes(app, ctx);
    await callsApiRoutes(app, ctx);
    healthRoutes(app, ctx);
    mediaStreamRoute(app, ctx);
  } catch (err) {
    // A route refusing its configuration (no auth token) stops start-up; release what is open.
    await app.close();
    await sharedSlots?.close();
    await engine?.stop();
    throw err;
  }

  followFleet(ctx);

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
      await engine?.stop();
      log.info('Shutdown complete');
    })());

  return { app, ctx, shutdown };
}

/** Ends after which no instance can be carrying the call (or none ever was). */
const CERTAIN_ENDS = new Set<EndReason>(['status_callback', 'stream_timeout', 'admission_failed']);

/** SIP mode's media leg: there is none, and a stream that arrives anyway is told so. */
const noMediaLeg: MediaLeg = {
  open() {
    throw new PbError('PB_ERR_ENGINE_UNAVAILABLE', 'BRIDGE_MODE=sip carries no media streams');
  },
};

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
