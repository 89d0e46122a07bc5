import type { FastifyReply, FastifyRequest } from 'fastify';
import { isValidTwilioSignature, signedHttpUrl, toWebSocketUrl } from '../twilio/signature.js';
import { PbError } from '../errors.js';
import type { ServerContext } from './context.js';

function bodyParams(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object') return {};
  return body as Record<string, string>;
}

function callSidOf(body: unknown): string | undefined {
  const v = (body as Record<string, unknown> | undefined)?.CallSid;
  return typeof v === 'string' ? v.slice(0, 40) : undefined;
}

/**
 * A preHandler refusing any request without a valid X-Twilio-Signature (403),
 * computed over the public URL Twilio used. For the WebSocket upgrade it runs
 * before the upgrade, so a forged stream never gets a socket.
 */
export function requireTwilioSignature(ctx: ServerContext, kind: 'http' | 'ws') {
  const route = kind === 'ws' ? 'media-stream' : undefined;
  const { config } = ctx;
  if (!config.TWILIO_VALIDATE_SIGNATURE) {
    return async (req: FastifyRequest): Promise<void> => {
      req.log.warn('X-Twilio-Signature NOT validated (TWILIO_VALIDATE_SIGNATURE=false)');
    };
  }
  // Fail closed here, not only in the CLI: keyed with nothing, the HMAC is one anyone can
  // compute. Routes are built at start-up, so start-up stops with this line.
  const authToken = config.TWILIO_AUTH_TOKEN;
  if (!authToken) {
    throw new PbError(
      'PB_ERR_CONFIG',
      'TWILIO_AUTH_TOKEN is not set: it is needed to validate X-Twilio-Signature (set TWILIO_VALIDATE_SIGNATURE=false only for local experiments)',
    );
  }
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const httpUrl = signedHttpUrl(config.PUBLIC_URL, {
      url: req.url,
      headers: req.headers,
      protocol: req.protocol,
    });
    const url = kind === 'ws' ? toWebSocketUrl(httpUrl) : httpUrl;
    const header = req.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    const params = kind === 'ws' ? {} : bodyParams(req.body);
    if (isValidTwilioSignature(authToken, signature, url, params)) return;
    const reason = signature ? 'invalid X-Twilio-Signature' : 'missing X-Twilio-Signature';
    const routeName = route ?? req.routeOptions.url ?? req.url;
    // Only what fails the signature counts against its source: never Twilio's own traffic.
    const limit = await ctx.unsignedLimit(req);
    if (limit.limited) {
      ctx.metrics.calls.inc({ outcome: 'rate_limited' });
      if (limit.first)
        req.log.warn(
          { source: req.ip, route: routeName, retryAfterSeconds: limit.retryAfterSeconds },
          'Rate limit reached for unsigned requests from this source; refusing them with 429',
        );
      await reply
        .code(429)
        .header('retry-after', String(limit.retryAfterSeconds))
        .type('text/plain')
        .send(`Too Many Requests: retry after ${limit.retryAfterSeconds} s`);
      return;
    }
    ctx.metrics.signatureInvalid.inc({ route: routeName });
    ctx.metrics.calls.inc({ outcome: 'signature_invalid' });
    req.log.warn(
      { callSid: callSidOf(req.body), url, route: routeName },
      `Refused request: ${reason}`,
    );
    await reply.code(403).type('text/plain').send(`Forbidden: ${reason}`);
  };
}
