import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { LiveKitApi } from '../livekit/rooms.js';
import type { CallRegistry } from '../bridge/call-registry.js';
import type { CallControl } from '../twilio/call-control.js';
import type { MediaLeg } from '../engine/media-leg.js';
import type { MediaEngine } from '../engine/engine.js';
import type { Metrics } from './metrics.js';
import type { UnsignedLimit } from './unsigned-limit.js';
import type { SharedSlots } from '../bridge/shared-slots.js';
import type { EndedCalls } from '../bridge/ended-calls.js';
import type { CallRecordStore } from '../bridge/call-records.js';

/** What every route needs, built once per server instance. */
export interface ServerContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  livekit: LiveKitApi;
  registry: CallRegistry;
  callControl: CallControl;
  /** The LiveKit media leg of every call (the media engine, or a fake in unit tests). */
  media: MediaLeg;
  /** The media engine this server supervises; absent when a MediaLeg was injected (unit tests). */
  engine?: MediaEngine;
  /** Fleet-wide call slots in Redis (REDIS_URL); absent for a single instance. */
  sharedSlots?: SharedSlots;
  /** Calls that ended here (or, with Redis, anywhere), while their stream tokens live. */
  endedCalls: EndedCalls;
  /** The history of calls placed through the API (memory, or Redis with REDIS_URL). */
  records: CallRecordStore;
  /** Key for per-call stream tokens; never leaves the process. */
  streamTokenSecret: string;
  state: { draining: boolean; startedAt: number };
  /** Counts a request that failed the signature check against its source's limit. */
  unsignedLimit: UnsignedLimit;
}
