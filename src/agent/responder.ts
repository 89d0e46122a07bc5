import { setMaxListeners } from 'node:events';
import { Room, RoomEvent } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { describeError } from '../errors.js';
import { filterRoomEvents } from '../livekit/room-event-filter.js';
import type { Logger } from '../log.js';
import { runLoopback } from './loopback.js';
import { parseCallMetadata } from './metadata.js';

export interface LoopbackResponderOptions {
  /** LiveKit URL (ws/wss/http/https). */
  url: string;
  apiKey: string;
  apiSecret: string;
  logger: Logger;
  /** How often to list rooms; new calls wait at most this long for their responder. */
  pollIntervalMs?: number;
  /** Only rooms whose names start with this are served. */
  roomPrefix?: string;
  /** Leave a room whose caller has not published audio within this time. */
  callerTimeoutMs?: number;
  /** Participant identity prefix; the room name is appended. */
  identityPrefix?: string;
}

export interface ResponderStats {
  active: number;
  joined: number;
  left: number;
  failed: number;
}

/**
 * A loopback agent for many rooms in ONE process. The Agents framework forks a process per
 * job, which cannot carry 150 calls on 2 cores; this joins each `call-*` room itself with
 * an agent-kind token (so the bridge sees ParticipantKind.AGENT) and mirrors the caller.
 */
export class LoopbackResponder {
  private readonly opts: Required<LoopbackResponderOptions>;
  private readonly rooms: RoomServiceClient;
  /** Rooms being served, by room sid (a re-created room with the same name is a new call). */
  private readonly sessions = new Map<string, Promise<void>>();
  /** Room sids already served: never re-joined, even while the empty room lingers. */
  private readonly served = new Set<string>();
  private readonly counters = { joined: 0, left: 0, failed: 0 };
  private running?: Promise<void>;

  constructor(opts: LoopbackResponderOptions) {
    this.opts = {
      pollIntervalMs: 250,
      roomPrefix: 'call-',
      callerTimeoutMs: 30_000,
      identityPrefix: 'responder-',
      ...opts,
    };
    this.rooms = new RoomServiceClient(
      this.opts.url.replace(/^ws/, 'http'),
      this.opts.apiKey,
      this.opts.apiSecret,
    );
  }

  stats(): ResponderStats {
    return { active: this.sessions.size, ...this.counters };
  }

  /** Serves rooms until `signal` aborts; resolves after every room has been left. */
  start(signal: AbortSignal): Promise<void> {
    // Every room session listens on the stop signal: an internal one without a listener cap.
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    if (signal.aborted) stop.abort();
    else signal.addEventListener('abort', () => stop.abort(), { once: true });
    this.running ??= this.loop(stop.signal);
    return this.running;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    log.info(
      { pollIntervalMs: this.opts.pollIntervalMs, roomPrefix: this.opts.roomPrefix },
      'responder started',
    );
    let lastError = '';
    while (!signal.aborted) {
      try {
        const rooms = await this.rooms.listRooms();
        lastError = '';
        // Forget deleted rooms so the set does not grow for the life of the process.
        const present = new Set(rooms.map((r) => r.sid));
        for (const sid of this.served) if (!present.has(sid)) this.served.delete(sid);
        for (const r of rooms) {
          if (!r.name.startsWith(this.opts.roomPrefix) || this.served.has(r.sid)) continue;
          this.served.add(r.sid);
          const session = this.serve(r.name, r.metadata, signal)
            .catch((err: unknown) => {
              this.counters.failed++;
              log.warn({ room: r.name, err: describeError(err) }, 'responder could not serve room');
            })
            .finally(() => {
              this.sessions.delete(r.sid);
              this.counters.left++;
            });
          this.sessions.set(r.sid, session);
        }
      } catch (err) {
        // Log a failing LiveKit once per distinct error, not four times a second.
        const text = describeError(err);
        if (text !== lastError) log.warn({ err: text }, 'responder could not list rooms');
        lastError = text;
      }
      await sleep(this.opts.pollIntervalMs, signal);
    }
    await Promise.allSettled(this.sessions.values());
    log.info(this.stats(), 'responder stopped');
  }

  private async serve(name: string, metadata: string, stop: AbortSignal): Promise<void> {
    const meta = parseCallMetadata([metadata], name);
    const logger = this.opts.logger.child({ callSid: meta.callSid, room: name });
    const abort = new AbortController();
    const onStop = () => abort.abort(new Error('responder stopping'));
    stop.addEventListener('abort', onStop, { once: true });
    // Many rooms in one process: without the filter every room's listener handles every
    // native event of the process, and ten mirrors saturate a core (room-event-filter.ts).
    const room = filterRoomEvents(new Room());
    room.on(RoomEvent.Disconnected, () => abort.abort(new Error('room disconnected')));
    // A room nobody calls into must not hold a responder forever.
    const callerTimer = setTimeout(
      () => abort.abort(new Error('no caller audio')),
      this.opts.callerTimeoutMs,
    );
    room.on(RoomEvent.TrackSubscribed, () => clearTimeout(callerTimer));
    try {
      await room.connect(this.opts.url, await this.token(name), {
        autoSubscribe: true,
        dynacast: false,
      });
      this.counters.joined++;
      logger.debug('responder joined room');
      await runLoopback(room, logger, abort.signal).catch((err: unknown) => {
        if (!abort.signal.aborted) throw err;
      });
    } finally {
      clearTimeout(callerTimer);
      stop.removeEventListener('abort', onStop);
      await room.disconnect().catch(() => undefined);
      logger.debug('responder left room');
    }
  }

  private token(room: string): Promise<string> {
    const at = new AccessToken(this.opts.apiKey, this.opts.apiSecret, {
      identity: `${this.opts.identityPrefix}${room}`,
      name: 'phonebridge loopback responder',
      ttl: 3600,
    });
    at.kind = 'agent';
    at.addGrant({
      roomJoin: true,
      room,
      canPublish: true,
      canSubscribe: true,
      canPublishData: false,
      // Needed for setAttributes(lk.agent.state).
      canUpdateOwnMetadata: true,
    });
    return at.toJwt();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
