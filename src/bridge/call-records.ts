import { createClient } from 'redis';
import type { Logger } from '../log.js';

/** One status Twilio reported (or `queued`, the answer to our create request). */
export interface StatusEntry {
  status: string;
  /** ISO time phonebridge heard it. */
  at: string;
  /** Twilio's SequenceNumber: callbacks can arrive out of order, this is their real order. */
  sequenceNumber?: number;
}

/** The fields that may change after the call was placed. */
export interface RecordUpdate {
  answeredBy?: string;
  machineDetectionDurationMs?: number;
  durationSeconds?: number;
  endReason?: string;
  endedAt?: string;
}

export interface NewCallRecord {
  callSid: string;
  room: string;
  from: string;
  to: string;
  machine: 'hangup' | 'voicemail';
  createdAt: string;
}

/** What `GET /calls/:callSid` answers. */
export interface CallRecord extends NewCallRecord, RecordUpdate {
  direction: 'outbound';
  /** The latest status in Twilio's order. */
  status: string;
  history: StatusEntry[];
  /** How the call turned out, once Twilio reported a final status (see outcomeOf). */
  outcome: string | null;
}

/**
 * The history of the calls placed through the API, kept `ttlSeconds` (CALL_RECORD_TTL_SECONDS)
 * so a client can ask how a call went after it ended. Updates for calls it does not hold
 * (inbound calls, expired records) are ignored.
 */
export interface CallRecordStore {
  create(record: NewCallRecord, first: StatusEntry): Promise<void>;
  addStatus(callSid: string, entry: StatusEntry): Promise<void>;
  update(callSid: string, fields: RecordUpdate): Promise<void>;
  get(callSid: string): Promise<CallRecord | undefined>;
  close(): Promise<void>;
}

export const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

/**
 * busy / no-answer / failed / canceled as Twilio says; a completed call by who answered:
 * human, unknown, fax, voicemail (a machine's greeting ended and machine=voicemail) or
 * machine (hung up on); `answered` when no verdict arrived.
 */
export function outcomeOf(r: Omit<CallRecord, 'outcome'>): string | null {
  const final = r.history.find((h) => TERMINAL.has(h.status));
  if (!final) return null;
  if (final.status !== 'completed') return final.status;
  const by = r.answeredBy;
  if (!by) return 'answered';
  if (by.startsWith('machine_end_')) return r.machine === 'voicemail' ? 'voicemail' : 'machine';
  if (by === 'machine_start') return 'machine';
  return by;
}

function assemble(base: NewCallRecord & RecordUpdate, history: StatusEntry[]): CallRecord {
  // The create answer (no sequence number) first, then Twilio's own order.
  const sorted = [...history].sort(
    (a, b) => (a.sequenceNumber ?? -1) - (b.sequenceNumber ?? -1) || a.at.localeCompare(b.at),
  );
  const rec = {
    ...base,
    direction: 'outbound' as const,
    status: sorted.at(-1)?.status ?? 'queued',
    history: sorted,
  };
  return { ...rec, outcome: outcomeOf(rec) };
}

/** At most this many records in memory, oldest dropped first: about 1 KiB each. */
const MAX_MEMORY_RECORDS = 10_000;

export class MemoryCallRecords implements CallRecordStore {
  private readonly records = new Map<
    string,
    { base: NewCallRecord & RecordUpdate; history: StatusEntry[]; expiresAt: number }
  >();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now = () => Date.now(),
  ) {}

  async create(record: NewCallRecord, first: StatusEntry): Promise<void> {
    this.sweep();
    this.records.set(record.callSid, {
      base: { ...record },
      history: [first],
      expiresAt: this.now() + this.ttlSeconds * 1000,
    });
    while (this.records.size > MAX_MEMORY_RECORDS) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }

  async addStatus(callSid: string, entry: StatusEntry): Promise<void> {
    this.live(callSid)?.history.push(entry);
  }

  async update(callSid: string, fields: RecordUpdate): Promise<void> {
    const r = this.live(callSid);
    if (r) Object.assign(r.base, fields);
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const r = this.live(callSid);
    return r && assemble(r.base, r.history);
  }

  async close(): Promise<void> {}

  private live(callSid: string) {
    const r = this.records.get(callSid);
    if (r && r.expiresAt <= this.now()) {
      this.records.delete(callSid);
      return undefined;
    }
    return r;
  }

  /** Insertion order is expiry order (one TTL for all), so the sweep stops at the first live one. */
  private sweep(): void {
    const now = this.now();
    for (const [sid, r] of this.records) {
      if (r.expiresAt > now) break;
      this.records.delete(sid);
    }
  }
}

// Updates only touch a record that still exists: a late callback must not resurrect an
// expired one as a key without a TTL.
const PUSH_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1`;
const SET_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`;

const NUMERIC = new Set(['machineDetectionDurationMs', 'durationSeconds']);

export interface RedisRecordsOptions {
  url: string;
  ttlSeconds: number;
  log: Logger;
  prefix?: string;
}

/** Records in Redis (REDIS_URL), so any instance answers for any call: a hash and a list each. */
export class RedisCallRecords implements CallRecordStore {
  private readonly client;
  private readonly prefix: string;

  private constructor(private readonly opts: RedisRecordsOptions) {
    this.prefix = opts.prefix ?? 'phonebridge:call:';
    this.client = createClient({ url: opts.url, socket: { connectTimeout: 5000 } });
    this.client.on('error', (err: Error) =>
      opts.log.warn({ err: err.message }, 'Redis connection error (call records)'),
    );
  }

  static async connect(opts: RedisRecordsOptions): Promise<RedisCallRecords> {
    const store = new RedisCallRecords(opts);
    await store.client.connect();
    return store;
  }

  private get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  async create(record: NewCallRecord, first: StatusEntry): Promise<void> {
    const [hash, list] = this.keys(record.callSid);
    await this.client
      .multi()
      .hSet(hash, { ...record })
      .rPush(list, JSON.stringify(first))
      .expire(hash, this.ttlSeconds)
      .expire(list, this.ttlSeconds)
      .exec();
  }

  async addStatus(callSid: string, entry: StatusEntry): Promise<void> {
    await this.client.eval(PUSH_IF_EXISTS, {
      keys: this.keys(callSid),
      arguments: [JSON.stringify(entry)],
    });
  }

  async update(callSid: string, fields: RecordUpdate): Promise<void> {
    const args = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [k, String(v)]);
    if (args.length === 0) return;
    await this.client.eval(SET_IF_EXISTS, { keys: this.keys(callSid), arguments: args });
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const [hash, list] = this.keys(callSid);
    const [fields, entries] = await Promise.all([
      this.client.hGetAll(hash),
      this.client.lRange(list, 0, -1),
    ]);
    if (!fields.callSid) return undefined;
    const base: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(fields)) base[k] = NUMERIC.has(k) ? Number(v) : v;
    return assemble(
      base as unknown as NewCallRecord & RecordUpdate,
      entries.map((e) => JSON.parse(e) as StatusEntry),
    );
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => undefined);
  }

  private keys(callSid: string): [string, string] {
    return [`${this.prefix}${callSid}`, `${this.prefix}${callSid}:history`];
  }
}
