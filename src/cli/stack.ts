import { randomBytes } from 'node:crypto';
import { loadConfig, readDotEnv, type Env } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { provisionSipForStack, sipStackEnv } from './sip-stack.js';
import { LocalLiveKit } from '../livekit/local.js';
import { startServer, type RunningServer } from '../server/start.js';
import type { AgentWorker } from '../agent/worker.js';
import { startMirror, type RunningMirror } from '../engine/mirror.js';

export interface StackOptions {
  env?: Env;
  log: Logger;
  /** Start the agent worker in this process (dev, demo). */
  agent?: boolean;
  /**
   * Level of the agent framework's own logger, which writes to stdout; the demo keeps
   * stdout for its report. Defaults to LOG_LEVEL.
   */
  agentFrameworkLogLevel?: Config['LOG_LEVEL'];
  onProgress?: (line: string) => void;
  /** BRIDGE_MODE=sip: a local livekit-server with Redis, the trunk and rule provisioned. */
  sip?: boolean;
}

export interface Stack {
  config: Config;
  server: RunningServer;
  url: string;
  livekit?: LocalLiveKit;
  agent?: AgentWorker;
  /** The media engine's mirror agent, with AGENT_MODE=mirror. */
  mirror?: RunningMirror;
  /** True when TWILIO_AUTH_TOKEN was generated for this run (dev only). */
  generatedAuthToken: boolean;
  stop(): Promise<void>;
}

/**
 * Everything phonebridge needs on one machine: a local livekit-server (unless
 * LIVEKIT_URL points elsewhere), the server and, optionally, the agent worker.
 * Used by `dev`, `demo` and the load tests; `stop()` takes it all down in reverse order.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const env: Env = { ...(opts.env ?? { ...readDotEnv(), ...process.env }) };
  if (opts.sip) sipStackEnv(env);
  let config = loadConfig(env);
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err) {
        opts.log.warn({ err: (err as Error).message }, 'stop step failed');
      }
    }
  };
  try {
    let livekit: LocalLiveKit | undefined;
    if (!config.LIVEKIT_URL) {
      opts.onProgress?.('Starting local livekit-server…');
      livekit = await LocalLiveKit.start({ onProgress: opts.onProgress, sip: opts.sip });
      stops.push(() => livekit!.stop());
      env.LIVEKIT_URL = livekit.url;
      env.LIVEKIT_API_KEY = livekit.apiKey;
      env.LIVEKIT_API_SECRET = livekit.apiSecret;
    }
    let generatedAuthToken = false;
    if (!config.TWILIO_AUTH_TOKEN) {
      env.TWILIO_AUTH_TOKEN = randomBytes(16).toString('hex');
      generatedAuthToken = true;
    }
    const mirrorMode = opts.agent && loadConfig(env).AGENT_MODE === 'mirror';
    // The mirror serves every call-* room by itself: a named dispatch would find no worker.
    if (mirrorMode) env.AGENT_DISPATCH = 'false';
    config = loadConfig(env);

    let agent: AgentWorker | undefined;
    let mirror: RunningMirror | undefined;
    if (mirrorMode) {
      opts.onProgress?.('Starting the mirror agent (media engine)…');
      mirror = await startMirror({
        url: config.LIVEKIT_URL!,
        apiKey: config.LIVEKIT_API_KEY!,
        apiSecret: config.LIVEKIT_API_SECRET!,
        log: opts.log.child({ component: 'mirror' }),
        logLevel: config.LOG_LEVEL,
      });
      stops.push(() => mirror!.stop());
    } else if (opts.agent) {
      // The worker loads rtc-node in this process (job processes are forked from it).
      const { installFfiFinalizerGuard } = await import('../livekit/ffi-guard.js');
      installFfiFinalizerGuard(opts.log);
      opts.onProgress?.(`Starting the agent worker (${config.AGENT_MODE} mode)…`);
      const { startAgentWorker } = await import('../agent/worker.js');
      agent = startAgentWorker({
        config: { ...config, LOG_LEVEL: opts.agentFrameworkLogLevel ?? config.LOG_LEVEL },
        logger: opts.log.child({ component: 'agent' }),
        production: false,
      });
      stops.push(() => agent!.close());
      const registered = await Promise.race([
        agent.registered,
        agent.done.then(() => undefined),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000).unref()),
      ]);
      if (!registered)
        throw new PbError(
          'PB_ERR_CONFIG',
          'the agent worker did not register with LiveKit within 30 s',
        );
    }

    // Before the server, whose start-up check in SIP mode wants the trunk and rule there.
    if (opts.sip) await provisionSipForStack(config, opts.onProgress);
    opts.onProgress?.('Starting phonebridge…');
    const server = await startServer(config, opts.log);
    stops.push(() => server.shutdown());
    await waitForHealth(server.url);
    if (agent) {
      const { dispose } = await import('@livekit/rtc-node');
      // Last: rtc-node's native runtime keeps the process alive until released.
      stops.unshift(() => dispose());
    }
    return { config, server, url: server.url, livekit, agent, mirror, generatedAuthToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForHealth(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new PbError(
    'PB_ERR_LIVEKIT_UNREACHABLE',
    `phonebridge at ${url} did not report healthy within ${timeoutMs} ms`,
  );
}
