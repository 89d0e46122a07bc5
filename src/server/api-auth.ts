import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A configured API key, known by a short public id (logs, rate-limit buckets), never by its value. */
interface Key {
  id: string;
  digest: Buffer;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The outbound API's bearer keys (PHONEBRIDGE_API_KEY, comma-separated so a key can be
 * rotated without downtime). Keys are compared as SHA-256 digests with timingSafeEqual,
 * against every configured key, so neither a key's length nor which key matched leaks
 * through timing.
 */
export class ApiKeys {
  private readonly keys: Key[];

  constructor(keys: readonly string[]) {
    this.keys = keys.map((k) => ({
      id: `key-${sha256(k).toString('hex').slice(0, 8)}`,
      digest: sha256(k),
    }));
  }

  /** The id of the key the Authorization header carries, or undefined. */
  match(header: string | string[] | undefined): string | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    const m = /^Bearer +(\S+) *$/i.exec(value ?? '');
    if (!m) return undefined;
    const given = sha256(m[1]!);
    let found: string | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, given)) found ??= k.id;
    return found;
  }

  /** Rate-limit bucket: per key when the request carries a good one, else per source address. */
  bucket(req: FastifyRequest): string {
    const id = this.match(req.headers.authorization);
    return id ? `api:${id}` : `api-anonymous:${req.ip}`;
  }

  /** A preHandler answering 401 (with `WWW-Authenticate`) unless a configured key is given. */
  guard() {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const id = this.match(req.headers.authorization);
      if (id) {
        req.log = req.log.child({ apiKey: id });
        return;
      }
      const reason = req.headers.authorization
        ? 'wrong API key'
        : 'missing Authorization: Bearer <PHONEBRIDGE_API_KEY>';
      req.log.warn({ route: req.routeOptions.url, reason }, 'Refused API request');
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="phonebridge"')
        .send({ error: { code: 'PB_ERR_API_AUTH', message: reason } });
    };
  }
}
