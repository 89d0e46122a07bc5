import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createClient } from 'redis';
import type { Logger } from '../log.js';
import { ACQUIRE, CLAIM, FINISH, RENAME } from './shared-slots-scripts.js';

/**
 * The fleet's shared view of its calls, in Redis, so that MAX_CONCURRENT_CALLS holds for
 * the whole fleet (a trunk or licence limit, not per instance) and a call belongs to
 * exactly one instance at a time:
 * - slots: one sorted set of CallSids scored by expiry. An instance that dies without
 *   releasing its calls loses them after `ttlMs`, because live instances refresh their
 *   own slots every `ttlMs / 3`.
 * - owner: which instance holds each call, and whether it is still waiting for its stream
 *   (`admitted`) or carrying it (`streaming`). A stream that lands on another instance
 *   than the webhook claims the call there; the admitting instance hears it on the
 *   events channel and lets go.
 * - ended: CallSids that ended, kept while their stream tokens could still be used.
 */
export interface SharedSlotsOptions {
  url: string;
  limit: number;
  ttlMs?: number;
  /** How long an ended call (and a call's owner record) is remembered: the stream token's lifetime. */
  rememberMs?: number;
  key?: string;
  log: Logger;
}

export type AcquireResult = 'ok' | 'full' | 'ended' | 'elsewhere';
export type ClaimResult = 'ok' | 'full' | 'ended' | 'taken';

/** What one instance tells the others. */
export type FleetEvent =
  { type: 'moved'; callSid: string; to: string } | { type: 'ended'; callSid: string };

export class SharedSlots {
  /** This process among the fleet's instances (no spaces or `|`: it is stored in values). */
  readonly instanceId = `${hostname().replace(/[^\w.-]/g, '')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly client;
  private readonly subscriber;
  private readonly held = new Set<string>();
  private readonly key: string;
  private readonly ttlMs: number;
  private readonly rememberMs: number;
  private readonly listeners: ((e: FleetEvent) => void)[] = [];
  private heartbeat?: NodeJS.Timeout;

  private constructor(private readonly opts: SharedSlotsOptions) {
    this.key = opts.key ?? 'phonebridge:calls';
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.rememberMs = opts.rememberMs ?? 75_000;
    this.client = createClient({ url: opts.url, socket: { connectTimeout: 5000 } });
    this.subscriber = this.client.duplicate();
    for (const c of [this.client, this.subscriber])
      c.on('error', (err: Error) => opts.log.warn({ err: err.message }, 'Redis connection error'));
  }

  /** Connects, or throws with a one-line reason naming REDIS_URL. */
  static async connect(opts: SharedSlotsOptions): Promise<SharedSlots> {
    const slots = new SharedSlots(opts);
    try {
      await slots.client.connect();
      await slots.subscriber.connect();
      await slots.subscriber.subscribe(slots.channel, (message) => slots.onMessage(message));
    } catch (err) {
      await slots.close();
      throw new Error(
        `REDIS_URL: cannot connect to ${redact(opts.url)} (${(err as Error).message})`,
      );
    }
    slots.heartbeat = setInterval(() => void slots.refresh(), Math.max(1000, slots.ttlMs / 3));
    slots.heartbeat.unref();
    return slots;
  }

  /** Calls `fn` for every event another instance (or this one) publishes. */
  onEvent(fn: (e: FleetEvent) => void): void {
    this.listeners.push(fn);
  }

  /** ACQUIRE's and CLAIM's common arguments: now, slot TTL, limit, call, owner, memory. */
  private slotArgs(callSid: string, owner: string): string[] {
    return [
      String(Date.now()),
      String(this.ttlMs),
      String(this.opts.limit),
      callSid,
      owner,
      String(this.rememberMs),
    ];
  }

  /**
   * A webhook admits the call here: takes its slot against the fleet-wide limit and
   * records this instance as its owner. `elsewhere`: another instance is admitting or
   * carrying it (a webhook retried to another instance). Idempotent per call.
   */
  async acquire(callSid: string): Promise<AcquireResult> {
    const result = await this.client.eval(ACQUIRE, {
      keys: this.keysOf(callSid),
      arguments: this.slotArgs(callSid, `${this.instanceId}|admitted`),
    });
    if (result === 'ok') this.held.add(callSid);
    return result as AcquireResult;
  }

  /**
   * The call's stream started here: this instance carries it from now on. Takes the slot
   * (already held when the webhook landed here too), and tells the admitting instance to
   * let go. `taken`: another instance already carries a stream for it.
   */
  async claimStream(callSid: string): Promise<ClaimResult> {
    const result = await this.client.eval(CLAIM, {
      keys: this.keysOf(callSid),
      arguments: [...this.slotArgs(callSid, this.instanceId), this.channel],
    });
    if (result === 'ok') this.held.add(callSid);
    return result as ClaimResult;
  }

  /** Whether this instance still owns the call (false once another one claimed it). */
  async isOwner(callSid: string): Promise<boolean> {
    const owner = await this.client.get(this.keysOf(callSid)[1]!);
    return owner === null || owner.startsWith(`${this.instanceId}|`);
  }

  /**
   * An outbound call holds its slot (and owner record) under its own reference until
   * Twilio names it; both then follow the CallSid, without the slot ever being freed (the
   * fleet count cannot dip). Resolves false when the slot had expired.
   */
  async rename(from: string, to: string): Promise<boolean> {
    this.held.delete(from);
    this.held.add(to);
    const [slots, fromOwner] = this.keysOf(from);
    const ok = await this.client.eval(RENAME, {
      keys: [slots!, fromOwner!, this.keysOf(to)[1]!],
      arguments: [from, to, String(this.rememberMs)],
    });
    return ok === 1;
  }

  /**
   * The call ended here: frees its slot and, when its stream token went out, remembers it
   * ended. Returns false, and changes nothing, when another instance carries the call:
   * its slot and room are theirs.
   */
  async finish(callSid: string, remember = true): Promise<boolean> {
    this.held.delete(callSid);
    const done = await this.client.eval(FINISH, {
      keys: this.keysOf(callSid),
      arguments: [callSid, String(this.rememberMs), this.instanceId, remember ? '1' : '0'],
    });
    return done === 1;
  }

  /** Stops refreshing a call's slot without freeing it: the instance that took it over does. */
  forget(callSid: string): void {
    this.held.delete(callSid);
  }

  /** Twilio says the call is over: every instance ends its part, and it is remembered as ended. */
  async announceEnded(callSid: string): Promise<void> {
    await this.client.set(this.keysOf(callSid)[2]!, '1', { PX: this.rememberMs });
    await this.client.publish(this.channel, `ended ${callSid}`);
  }

  /** Calls holding a slot across the fleet, expired ones excluded. */
  async count(): Promise<number> {
    return this.client.zCount(this.key, Date.now(), '+inf');
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const c of [this.subscriber, this.client]) {
      if (c.isOpen) await c.quit().catch(() => undefined);
    }
  }

  private get channel(): string {
    return `${this.key}:events`;
  }

  private keysOf(callSid: string): string[] {
    return [this.key, `${this.key}:owner:${callSid}`, `${this.key}:ended:${callSid}`];
  }

  private onMessage(message: string): void {
    const [type, callSid, to] = message.split(' ');
    if (!callSid) return;
    const event: FleetEvent | undefined =
      type === 'moved' && to
        ? { type, callSid, to }
        : type === 'ended'
          ? { type, callSid }
          : undefined;
    if (!event) return;
    if (event.type === 'moved' && event.to !== this.instanceId) this.held.delete(callSid);
    for (const fn of this.listeners) fn(event);
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
