import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';

export type UnsignedLimit = (
  req: FastifyRequest,
) => Promise<{ limited: false } | { limited: true; retryAfterSeconds: number; first: boolean }>;

/** Fastify's trust-proxy function type (not exported by Fastify). */
type TrustProxyFunction = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY for Fastify. A hop count trusts that many hops nearest to us whoever they
 * are (Fastify itself no longer takes a number); a list is compiled by proxy-addr.
 */
export function trustProxyOption(t: Config['TRUST_PROXY']): false | string[] | TrustProxyFunction {
  if (t === false) return false;
  if (typeof t === 'number') return (_address, hop) => hop < t;
  return t;
}

/** More sources than this refused in one window are not each logged. */
const MAX_LOGGED_SOURCES = 10_000;

/**
 * The per-source limit for requests that fail the signature check. A validly signed
 * request is never limited by its address: Twilio's webhooks come from a few addresses
 * (or through one proxy), and capacity, not a rate, bounds real calls. Fixed windows of
 * RATE_LIMIT_WINDOW_MS (@fastify/rate-limit's store), keyed by the client address as
 * TRUST_PROXY resolves it. `first` marks the first refusal of a source in a window, so a
 * flood is logged once, not once per request.
 */
export function unsignedLimiter(app: FastifyInstance, config: Config): UnsignedLimit {
  const limit = app.createRateLimit({
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
  });
  const logged = new Map<string, number>();
  return async (req) => {
    const r = await limit(req);
    if (r.isAllowed || !r.isExceeded) return { limited: false };
    const now = Date.now();
    const until = logged.get(r.key);
    const first = until === undefined || until <= now;
    if (first) {
      if (logged.size >= MAX_LOGGED_SOURCES) logged.clear();
      logged.set(r.key, now + r.ttl);
    }
    return { limited: true, retryAfterSeconds: Math.max(1, r.ttlInSeconds), first };
  };
}
