import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { LiveKitApi } from '../livekit/rooms.js';
import type { CallRegistry } from '../bridge/call-registry.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Metrics } from './metrics.js';
import type { SharedSlots } from '../bridge/shared-slots.js';
import type { CallRecordStore } from '../bridge/call-records.js';

/** What every route needs, built once per server instance. */
export interface ServerContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  livekit: LiveKitApi;
  registry: CallRegistry;
  callControl: CallControl;
  /** Fleet-wide call slots in Redis (REDIS_URL); absent for a single instance. */
  sharedSlots?: SharedSlots;
  /** The history of calls placed through the API (memory, or Redis with REDIS_URL). */
  records: CallRecordStore;
  /** Key for per-call stream tokens; never leaves the process. */
  streamTokenSecret: string;
  state: { draining: boolean; startedAt: number };
}
