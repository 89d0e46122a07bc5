import type { JobContext } from '@livekit/agents';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { CallMetadata } from './metadata.js';

/** Everything one call's mode runner needs, created once per job in job.ts. */
export interface CallContext {
  readonly ctx: JobContext;
  readonly config: Config;
  readonly meta: CallMetadata & { callSid: string };
  /** Child logger carrying `callSid` and `mode`. */
  readonly logger: Logger;
  /** Aborts when the job shuts down or the room disconnects. */
  readonly signal: AbortSignal;
}
