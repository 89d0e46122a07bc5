import { createClient } from 'redis';
import type { Logger } from '../log.js';

/** An HTTP answer worth replaying. */
export interface StoredAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type IdempotentResult =
  | { kind: 'answered'; answer: StoredAnswer; replayed: boolean }
  /** The key was used before for a request with another body. */
  | { kind: 'mismatch' }
  /** The first request with this key is still being worked on, elsewhere, for too long. */
  | { kind: 'busy' };

/**
 * `Idempotency-Key`: the first request with a key does the work; a retry with the same key
 * and body gets the first answer instead of dialling again. Only successes are kept: a
 * request that failed (at capacity, Twilio refused) dialled nothing, so a retry may try
 * again. A retry that arrives while the first is in flight waits for its answer.
 */
export interface IdempotencyStore {
  run(
    key: string,
    fingerprint: string,
    work: () => Promise<StoredAnswer>,
  ): Promise<IdempotentResult>;
  close(): Promise<void>;
}

const kept = (a: StoredAnswer) => a.status >= 200 && a.status < 300;

export class MemoryIdempotency implements IdempotencyStore {
  private readonly entries = new Map<
    string,
    { fingerprint: string; expiresAt: number; answer?: StoredAnswer; pending?: Promise<unknown> }
  >();

  constructor(private readonly ttlSeconds: number) {}

  async run(
    key: string,
    fingerprint: string,
    work: () => Promise<StoredAnswer>,
  ): Promise<IdempotentResult> {
    for (;;) {
      const now = Date.now();
      for (const [k, e] of this.entries) {
        if (e.expiresAt > now) break;
        if (!e.pending) this.entries.delete(k);
      }
      const e = this.entries.get(key);
      if (!e) {
        const entry: {
          fingerprint: string;
          expiresAt: number;
          answer?: StoredAnswer;
          pending?: Promise<unknown>;
        } = {
          fingerprint,
          expiresAt: now + this.ttlSeconds * 1000,
        };
        this.entries.set(key, entry);
        const pending = work();
        entry.pending = pending.catch(() => undefined);
        try {
          const answer = await pending;
          if (kept(answer)) entry.answer = answer;
          else this.entries.delete(key);
          return { kind: 'answered', answer, replayed: false };
        } catch (err) {
          this.entries.delete(key);
          throw err;
        } finally {
          entry.pending = undefined;
        }
      }
      if (e.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (e.answer) return { kind: 'answered', answer: e.answer, replayed: true };
      await e.pending;
    }
  }

  async close(): Promise<void> {}
}

/** How long a retry waits for the first request's answer before giving up with 409. */
const IN_FLIGHT_WAIT_MS = 20_000;

/** Keys in Redis (REDIS_URL): a retry that lands on another instance is answered the same. */
export class RedisIdempotency implements IdempotencyStore {
  private readonly client;
  private readonly ttlSeconds: number;

  private constructor(opts: { url: string; ttlSeconds: number; log: Logger }) {
    this.ttlSeconds = opts.ttlSeconds;
    this.client = createClient({ url: opts.url, socket: { connectTimeout: 5000 } });
    this.client.on('error', (err: Error) =>
      opts.log.warn({ err: err.message }, 'Redis connection error (idempotency keys)'),
    );
  }

  static async connect(opts: {
    url: string;
    ttlSeconds: number;
    log: Logger;
  }): Promise<RedisIdempotency> {
    const store = new RedisIdempotency(opts);
    await store.client.connect();
    return store;
  }

  async run(
    key: string,
    fingerprint: string,
    work: () => Promise<StoredAnswer>,
  ): Promise<IdempotentResult> {
    const k = `phonebridge:idempotency:${key}`;
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (;;) {
      const claimed = await this.client.set(k, JSON.stringify({ fingerprint }), {
        NX: true,
        EX: this.ttlSeconds,
      });
      if (claimed) {
        let answer: StoredAnswer;
        try {
          answer = await work();
        } catch (err) {
          await this.client.del(k);
          throw err;
        }
        if (kept(answer))
          await this.client.set(k, JSON.stringify({ fingerprint, answer }), {
            EX: this.ttlSeconds,
          });
        else await this.client.del(k);
        return { kind: 'answered', answer, replayed: false };
      }
      const raw = await this.client.get(k);
      if (raw) {
        const held = JSON.parse(raw) as { fingerprint: string; answer?: StoredAnswer };
        if (held.fingerprint !== fingerprint) return { kind: 'mismatch' };
        if (held.answer) return { kind: 'answered', answer: held.answer, replayed: true };
      }
      if (Date.now() > deadline) return { kind: 'busy' };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => undefined);
  }
}
