import { AgentDispatchClient, RoomAgentDispatch, RoomServiceClient } from 'livekit-server-sdk';
import { PbError } from '../errors.js';

export interface LiveKitApiOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Per-request timeout; a webhook must answer Twilio within seconds. */
  requestTimeoutSeconds?: number;
  /** How long a health answer is reused: /health must stay cheap under probes. */
  healthCacheMs?: number;
}

export interface CallRoomOptions {
  name: string;
  metadata: string;
  emptyTimeoutSeconds: number;
  maxParticipants: number;
  /**
   * Dispatched by the room's creation itself: then the room's only dispatch (no automatic
   * unnamed one beside it), and a repeated createRoom dispatches nothing more.
   */
  agent?: { name: string; metadata: string };
}

export interface HealthState {
  ok: boolean;
  reason?: string;
  checkedAt: number;
}

/** `ParticipantInfo_Kind.AGENT` in livekit/protocol (not re-exported by livekit-server-sdk). */
const AGENT_KIND = 4;

function httpUrl(url: string): string {
  return url.replace(/^ws/, 'http');
}

function status(err: unknown): number | undefined {
  return typeof (err as { status?: unknown }).status === 'number'
    ? (err as { status: number }).status
    : undefined;
}

/** Translates a LiveKit API failure into our error registry, keeping the cause. */
export function toPbError(
  err: unknown,
  code: 'PB_ERR_ROOM_CREATE' | 'PB_ERR_DISPATCH',
  what: string,
): PbError {
  const s = status(err);
  if (s === 401 || s === 403) {
    return new PbError(
      'PB_ERR_LIVEKIT_AUTH',
      `${what}: LiveKit rejected LIVEKIT_API_KEY/LIVEKIT_API_SECRET (${s})`,
      { cause: err },
    );
  }
  if (s === undefined) {
    return new PbError(
      'PB_ERR_LIVEKIT_UNREACHABLE',
      `${what}: ${(err as Error).message ?? String(err)}`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
  return new PbError(code, `${what}: LiveKit answered ${s}`, { cause: err });
}

/** The LiveKit server API as the call path uses it: rooms, dispatch, a cached health probe. */
export class LiveKitApi {
  readonly rooms: RoomServiceClient;
  readonly dispatch: AgentDispatchClient;
  private health: HealthState = { ok: true, checkedAt: 0 };
  private probing?: Promise<HealthState>;
  private readonly healthCacheMs: number;

  constructor(readonly opts: LiveKitApiOptions) {
    const clientOpts = { requestTimeout: opts.requestTimeoutSeconds ?? 5 };
    this.rooms = new RoomServiceClient(httpUrl(opts.url), opts.apiKey, opts.apiSecret, clientOpts);
    this.dispatch = new AgentDispatchClient(
      httpUrl(opts.url),
      opts.apiKey,
      opts.apiSecret,
      clientOpts,
    );
    this.healthCacheMs = opts.healthCacheMs ?? 2_000;
  }

  async createCallRoom(room: CallRoomOptions): Promise<void> {
    try {
      // createRoom is idempotent in LiveKit: a Twilio retry gets the same room.
      await this.rooms.createRoom({
        name: room.name,
        metadata: room.metadata,
        emptyTimeout: room.emptyTimeoutSeconds,
        departureTimeout: 5,
        maxParticipants: room.maxParticipants,
        ...(room.agent && {
          agents: [
            new RoomAgentDispatch({ agentName: room.agent.name, metadata: room.agent.metadata }),
          ],
        }),
      });
      this.markHealthy();
    } catch (err) {
      const e = toPbError(err, 'PB_ERR_ROOM_CREATE', `creating room ${room.name}`);
      if (e.code !== 'PB_ERR_ROOM_CREATE') this.markUnhealthy(e.message);
      throw e;
    }
  }

  async dispatchAgent(room: string, agentName: string, metadata: string): Promise<void> {
    try {
      await this.dispatch.createDispatch(room, agentName, { metadata });
    } catch (err) {
      throw toPbError(err, 'PB_ERR_DISPATCH', `dispatching ${agentName} to ${room}`);
    }
  }

  /** Deletes a room; a room that is already gone counts as deleted. */
  async deleteRoom(room: string): Promise<boolean> {
    try {
      await this.rooms.deleteRoom(room);
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
  }

  /** Whether the room exists: a call's room lives exactly as long as the call. */
  async roomExists(room: string): Promise<boolean> {
    return (await this.rooms.listRooms([room])).some((r) => r.name === room);
  }

  /**
   * Whether someone other than an agent is in the room: in a call's room that is the
   * phone leg, so an instance that never carried the call's stream learns that another
   * instance does.
   */
  async hasPhoneLeg(room: string): Promise<boolean> {
    try {
      return (await this.rooms.listParticipants(room)).some((p) => Number(p.kind) !== AGENT_KIND);
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
  }

  /** LiveKit reachability, probed at most once per cache period, never concurrently. */
  async checkHealth(): Promise<HealthState> {
    if (Date.now() - this.health.checkedAt < this.healthCacheMs) return this.health;
    this.probing ??= (async () => {
      try {
        await this.rooms.listRooms(['phonebridge-health-probe']);
        this.markHealthy();
      } catch (err) {
        const s = status(err);
        this.markUnhealthy(
          s === 401 || s === 403
            ? `LiveKit rejected the API credentials (${s})`
            : `LiveKit unreachable: ${(err as Error).message}`,
        );
      } finally {
        this.probing = undefined;
      }
      return this.health;
    })();
    return this.probing;
  }

  private markHealthy(): void {
    this.health = { ok: true, checkedAt: Date.now() };
  }

  private markUnhealthy(reason: string): void {
    this.health = { ok: false, reason, checkedAt: Date.now() };
  }
}
