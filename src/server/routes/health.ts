import type { FastifyInstance } from 'fastify';
import { version } from '../../version.js';
import type { ServerContext } from '../context.js';

/** `GET /health` and `GET /metrics`: cheap, unauthenticated, safe for probes. */
export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', async (_req, reply) => {
    const livekit = await ctx.livekit.checkHealth();
    const media = ctx.engine?.health() ?? { ok: true };
    const lk = livekit.ok ? media : livekit;
    const status = ctx.state.draining ? 'draining' : lk.ok ? 'ok' : 'degraded';
    return reply.code(status === 'degraded' ? 503 : 200).send({
      status,
      active_calls: ctx.registry.active,
      capacity: ctx.registry.capacity,
      mode: ctx.config.BRIDGE_MODE,
      version,
      uptime_seconds: Math.round((Date.now() - ctx.state.startedAt) / 1000),
      ...(ctx.sharedSlots
        ? { fleet_active_calls: await ctx.sharedSlots.count().catch(() => null) }
        : {}),
      ...(lk.ok ? {} : { reason: lk.reason }),
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.code(200).type(ctx.metrics.registry.contentType).send(body);
  });
}
