import { createClient } from 'redis';
import type { Logger } from '../log.js';

/**
 * Call slots shared by every phonebridge instance through Redis, so that
 * MAX_CONCURRENT_CALLS holds for the whole fleet (a trunk or licence limit), not per
 * instance. Each slot is a member of one sorted set scored by its expiry: an instance
 * that dies without releasing its calls loses them after `ttlMs`, because live
 * instances refresh their own slots every `ttlMs / 3`.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ARGV[4])
return 1`;

/** Moves a held slot to a new member without ever freeing it (so the count cannot dip). */
const RENAME = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`;

export interface SharedSlotsOptions {
  url: string;
  limit: number;
  ttlMs?: number;
  key?: string;
  log: Logger;
}

export class SharedSlots {
  private readonly client;
  private readonly held = new Set<string>();
  private readonly key: string;
  private readonly ttlMs: number;
  private heartbeat?: NodeJS.Timeout;

  private constructor(private readonly opts: SharedSlotsOptions) {
    this.key = opts.key ?? 'phonebridge:calls';
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.client = createClient({ url: opts.url, socket: { connectTimeout: 5000 } });
    this.client.on('error', (err: Error) =>
      opts.log.warn({ err: err.message }, 'Redis connection error'),
    );
  }

  /** Connects, or throws with a one-line reason naming REDIS_URL. */
  static async connect(opts: SharedSlotsOptions): Promise<SharedSlots> {
    const slots = new SharedSlots(opts);
    try {
      await slots.client.connect();
    } catch (err) {
      throw new Error(
        `REDIS_URL: cannot connect to ${redact(opts.url)} (${(err as Error).message})`,
      );
    }
    slots.heartbeat = setInterval(() => void slots.refresh(), Math.max(1000, slots.ttlMs / 3));
    slots.heartbeat.unref();
    return slots;
  }

  /** Takes a slot for the call, atomically against the fleet-wide limit. Idempotent per call. */
  async acquire(callSid: string): Promise<boolean> {
    const ok = await this.client.eval(ACQUIRE, {
      keys: [this.key],
      arguments: [String(Date.now()), String(this.ttlMs), String(this.opts.limit), callSid],
    });
    if (ok === 1) this.held.add(callSid);
    return ok === 1;
  }

  /**
   * An outbound call holds its slot under its own reference until Twilio names it; the slot
   * then follows the CallSid. Resolves false when the slot had expired.
   */
  async rename(from: string, to: string): Promise<boolean> {
    this.held.delete(from);
    this.held.add(to);
    const ok = await this.client.eval(RENAME, { keys: [this.key], arguments: [from, to] });
    return ok === 1;
  }

  async release(callSid: string): Promise<void> {
    this.held.delete(callSid);
    await this.client.zRem(this.key, callSid);
  }

  /** Calls holding a slot across the fleet, expired ones excluded. */
  async count(): Promise<number> {
    return this.client.zCount(this.key, Date.now(), '+inf');
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.client.quit().catch(() => undefined);
  }

  private async refresh(): Promise<void> {
    if (this.held.size === 0) return;
    const expiry = Date.now() + this.ttlMs;
    try {
      // XX: refresh only what is still there; a slot that expired meanwhile stays released.
      await this.client.zAdd(
        this.key,
        [...this.held].map((value) => ({ score: expiry, value })),
        { condition: 'XX' },
      );
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'Could not refresh shared call slots');
    }
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
