/**
 * The file the Agents framework imports in each job process (see worker.ts). Its default
 * export is the agent; everything else about a call lives in the mode modules.
 */
import { AutoSubscribe, type JobContext, defineAgent } from '@livekit/agents';
import { RoomEvent } from '@livekit/rtc-node';
import { loadConfig } from '../config/load.js';
import { describeError } from '../errors.js';
import { createLogger } from '../log.js';
import { advertiseSignals } from './bridge-signals.js';
import { parseCallMetadata } from './metadata.js';
import type { CallContext } from './call-context.js';

/** When this process finished `prewarm` (an idle process waiting for a call). */
let prewarmedAt: number | undefined;

export default defineAgent({
  // Runs when the worker forks an idle process, before any call is assigned to it.
  prewarm: async () => {
    const startedAt = performance.now();
    const config = loadConfig();
    const { prewarmMode } = await import('./prewarm.js');
    await prewarmMode(config);
    prewarmedAt = Date.now();
    createLogger({ level: config.LOG_LEVEL, name: 'phonebridge-agent' }).info(
      {
        pid: process.pid,
        mode: config.AGENT_MODE,
        loadMs: Math.round(performance.now() - startedAt),
        // Node's start-up and the framework's and our imports included.
        startupMs: Math.round(process.uptime() * 1000),
      },
      'job process ready',
    );
  },
  entry: async (ctx: JobContext) => {
    // Each job process reads the same environment the worker was started with.
    const config = loadConfig();
    const meta = parseCallMetadata([ctx.job.metadata, ctx.job.room?.metadata], ctx.job.room?.name);
    const logger = createLogger({ level: config.LOG_LEVEL, name: 'phonebridge-agent' }).child({
      callSid: meta.callSid,
      mode: config.AGENT_MODE,
    });
    const abort = new AbortController();
    ctx.addShutdownCallback(async () => abort.abort(new Error('job shutting down')));
    // No auto-subscription: each mode subscribes to the caller once it can read the audio
    // (caller.ts), so "the agent subscribed" means "the agent listens".
    // Test hook (test/e2e/first-words.test.ts): an agent slow to join, on purpose.
    const delayMs = Number(process.env.PHONEBRIDGE_TEST_JOIN_DELAY_MS ?? 0);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    await ctx.connect(undefined, AutoSubscribe.SUBSCRIBE_NONE);
    // Before any mode subscribes to the caller, so the bridge knows to wait for our packet.
    await advertiseSignals(ctx.room).catch((err: unknown) =>
      logger.warn({ err: describeError(err) }, 'could not advertise the bridge signals'),
    );
    ctx.room.on(RoomEvent.Disconnected, () => abort.abort(new Error('room disconnected')));
    ctx.room.on(RoomEvent.DtmfReceived, (code: number, digit: string, participant) =>
      logger.info({ digit, code, from: participant.identity }, 'DTMF received'),
    );
    logger.info(
      {
        room: ctx.room.name,
        jobId: ctx.job.id,
        pid: process.pid,
        idleMs: prewarmedAt === undefined ? undefined : Date.now() - prewarmedAt,
      },
      'agent joined call',
    );

    const call: CallContext = { ctx, config, meta, logger, signal: abort.signal };
    try {
      // When a machine answered an outbound call and has been dealt with, no mode runs.
      const mode = (await opensToTalk(call)) ? config.AGENT_MODE : 'none';
      switch (mode) {
        case 'loopback': {
          const { runLoopback } = await import('./loopback.js');
          await runLoopback(ctx.room, logger, abort.signal);
          break;
        }
        case 'echo': {
          const { runEcho } = await import('./echo.js');
          await runEcho(call);
          break;
        }
        case 'openai': {
          const { runOpenAI } = await import('./openai/session.js');
          await runOpenAI(call);
          break;
        }
        case 'mirror':
          // Served by the media engine's mirror process, never by a framework job.
          logger.error('AGENT_MODE=mirror runs `phonebridge responder`, not the Agents worker');
          break;
      }
    } catch (err) {
      if (!abort.signal.aborted) logger.error({ err: describeError(err) }, 'agent failed');
    }
    // Every mode ends when the caller's audio or the session ends: leave; the bridge owns
    // the room (or it has already been deleted to hang up).
    logger.info('agent leaving call');
    ctx.shutdown('caller gone');
  },
});

/**
 * Inbound calls always talk. Outbound calls in the offline modes first wait for the AMD
 * verdict (src/agent/outbound.ts); openai mode waits for it inside its session, which it
 * starts early so the model is ready when the callee picks up.
 */
async function opensToTalk(call: CallContext): Promise<boolean> {
  if (call.meta.direction !== 'outbound' || call.config.AGENT_MODE === 'openai') return true;
  const { openOutboundOffline } = await import('./outbound.js');
  return openOutboundOffline(call);
}
