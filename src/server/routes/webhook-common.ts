import type { FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { ServerContext } from '../context.js';

/** Webhook bodies are a few hundred bytes; anything near this limit is not Twilio. */
export const WEBHOOK_BODY_LIMIT_BYTES = 16 * 1024;

/** Webhook routes' options; their rate limit lives in the signature check (twilio-auth.ts). */
export function webhookRouteOptions(): RouteShorthandOptions {
  return { bodyLimit: WEBHOOK_BODY_LIMIT_BYTES };
}

/** 400 with a one-line reason, logged with the CallSid when there is one. */
export async function badRequest(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  reason: string,
): Promise<FastifyReply> {
  ctx.metrics.calls.inc({ outcome: 'bad_request' });
  const sid = (req.body as Record<string, unknown> | undefined)?.CallSid;
  req.log.warn(
    { callSid: typeof sid === 'string' ? sid.slice(0, 40) : undefined, reason, route: req.url },
    'Rejected webhook: bad request',
  );
  return reply.code(400).type('text/plain').send(`Bad Request: ${reason}`);
}

/**
 * Runs right after the signature check, before the body is validated: Twilio only sends
 * forms, and a form field given twice is ambiguous (Twilio's signature covers every
 * copy, but which one would we act on?).
 */
export async function rejectDuplicates(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  // Twilio only ever sends forms; a JSON body here is someone else.
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
    await reply
      .code(415)
      .type('text/plain')
      .send('Unsupported Media Type: expected application/x-www-form-urlencoded');
    return;
  }
  const body = req.body;
  if (body === undefined || body === null || typeof body !== 'object') {
    await reply.code(400).type('text/plain').send('Bad Request: expected a form-encoded body');
    return;
  }
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value)) {
      req.log.warn({ param: key.slice(0, 64) }, 'Rejected webhook: duplicate parameter');
      await reply
        .code(400)
        .type('text/plain')
        .send(`Bad Request: duplicate parameter ${key.slice(0, 64)}`);
      return;
    }
  }
}
