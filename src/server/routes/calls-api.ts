import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../errors.js';
import { callSidSchema } from '../../twilio/stream-messages.js';
import { describeIssues } from '../../twilio/webhook-params.js';
import { publicBaseUrl } from '../../twilio/signature.js';
import { ApiKeys } from '../api-auth.js';
import type { ServerContext } from '../context.js';
import {
  MemoryIdempotency,
  RedisIdempotency,
  type IdempotencyStore,
  type StoredAnswer,
} from '../idempotency.js';
import { placeCall, placeCallBody } from '../place-call.js';

const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7E]{1,255}$/, { message: 'must be 1-255 printable characters' });
const sidParams = z.object({ callSid: callSidSchema });

/** A JSON error in the API's one shape: `{"error": {"code", "message"}}`. */
function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

function send(reply: FastifyReply, answer: StoredAnswer, replayed = false) {
  if (answer.headers) void reply.headers(answer.headers);
  if (replayed) void reply.header('idempotent-replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}

/**
 * The outbound-call API: `POST /calls`, `GET /calls/:callSid`, `DELETE /calls/:callSid`,
 * behind `Authorization: Bearer <PHONEBRIDGE_API_KEY>`. Not registered without a key.
 */
export async function callsApiRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { config } = ctx;
  if (!config.PHONEBRIDGE_API_KEY?.length) return;
  const keys = new ApiKeys(config.PHONEBRIDGE_API_KEY);
  const idempotency: IdempotencyStore = config.REDIS_URL
    ? await RedisIdempotency.connect({
        url: config.REDIS_URL,
        ttlSeconds: config.CALL_RECORD_TTL_SECONDS,
        log: ctx.log,
      })
    : new MemoryIdempotency(config.CALL_RECORD_TTL_SECONDS);
  app.addHook('onClose', () => idempotency.close());

  // JSON errors for every failure on these routes, including the body parser's and the
  // rate limiter's, instead of the webhooks' text answers.
  const errorHandler = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status =
      err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err: describeError(err) }, 'API request failed');
    else req.log.warn({ reason: err.message, route: req.routeOptions.url }, 'Rejected API request');
    const code =
      status === 429
        ? 'PB_ERR_RATE_LIMIT'
        : status >= 500
          ? 'PB_ERR_INTERNAL'
          : 'PB_ERR_BAD_REQUEST';
    return sendError(reply, status, code, status >= 500 ? 'internal error' : err.message);
  };
  const limit = (max: number) => ({
    rateLimit: {
      max,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      keyGenerator: (req: FastifyRequest) => keys.bucket(req),
    },
  });
  const common = { errorHandler, preHandler: keys.guard(), bodyLimit: 16 * 1024 };
  // Reading a call is cheap and `phonebridge dial --wait` polls it: ten times the dial limit.
  const readLimit = limit(config.API_RATE_LIMIT_MAX * 10);

  app.post(
    '/calls',
    { ...common, config: limit(config.API_RATE_LIMIT_MAX) },
    async (req, reply) => {
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
        return sendError(
          reply,
          415,
          'PB_ERR_BAD_REQUEST',
          'expected Content-Type: application/json',
        );
      const parsed = placeCallBody.safeParse(req.body);
      if (!parsed.success)
        return sendError(reply, 400, 'PB_ERR_BAD_REQUEST', describeIssues(parsed.error));
      const base = publicBaseUrl(config.PUBLIC_URL, {
        headers: req.headers,
        protocol: req.protocol,
      });
      const apiKey = keys.match(req.headers.authorization) ?? '';
      const log = ctx.log.child({ apiKey });
      const header = req.headers['idempotency-key'];
      if (header === undefined) return send(reply, await placeCall(ctx, parsed.data, base, log));
      const key = idempotencyKey.safeParse(header);
      if (!key.success)
        return sendError(
          reply,
          400,
          'PB_ERR_BAD_REQUEST',
          `Idempotency-Key ${describeIssues(key.error)}`,
        );
      const fingerprint = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
      const result = await idempotency.run(`${apiKey}:${key.data}`, fingerprint, () =>
        placeCall(ctx, parsed.data, base, log),
      );
      if (result.kind === 'mismatch')
        return sendError(
          reply,
          422,
          'PB_ERR_IDEMPOTENCY',
          'Idempotency-Key was used for a different request',
        );
      if (result.kind === 'busy')
        return sendError(
          reply,
          409,
          'PB_ERR_IDEMPOTENCY',
          'the first request with this Idempotency-Key is still in progress',
        );
      if (result.replayed)
        req.log.info({ idempotencyKey: key.data }, 'Idempotent retry: answering as before');
      return send(reply, result.answer, result.replayed);
    },
  );

  app.get('/calls/:callSid', { ...common, config: readLimit }, async (req, reply) => {
    const p = sidParams.safeParse(req.params);
    if (!p.success) return sendError(reply, 400, 'PB_ERR_BAD_REQUEST', describeIssues(p.error));
    const record = await ctx.records.get(p.data.callSid);
    if (!record)
      return sendError(
        reply,
        404,
        'PB_ERR_UNKNOWN_CALL',
        'no call placed through this API has that CallSid (or its record expired)',
      );
    return reply.code(200).send(record);
  });

  app.delete('/calls/:callSid', { ...common, config: readLimit }, async (req, reply) => {
    const p = sidParams.safeParse(req.params);
    if (!p.success) return sendError(reply, 400, 'PB_ERR_BAD_REQUEST', describeIssues(p.error));
    const sid = p.data.callSid;
    const record = await ctx.records.get(sid);
    if (!record)
      return sendError(
        reply,
        404,
        'PB_ERR_UNKNOWN_CALL',
        'no call placed through this API has that CallSid (or its record expired)',
      );
    if (record.outcome !== null)
      return sendError(reply, 409, 'PB_ERR_BAD_REQUEST', `the call is over (${record.status})`);
    try {
      // `completed` hangs up a call whether it is still ringing or already answered.
      await ctx.callControl.hangup(sid);
    } catch (err) {
      return sendError(
        reply,
        502,
        'PB_ERR_TWILIO_REST',
        `Twilio did not hang up: ${describeError(err)}`,
      );
    }
    const call = ctx.registry.get(sid);
    if (call) await ctx.registry.end(call, 'api_hangup');
    req.log.info({ callSid: sid }, 'Outbound call hung up through the API');
    return reply.code(200).send((await ctx.records.get(sid)) ?? record);
  });
}
