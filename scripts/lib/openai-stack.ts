/**
 * The stack the agent-side measuring scripts run: a local livekit-server, the fake
 * Realtime server and one agent worker in OpenAI mode pointed at it, plus a way to put a
 * fake caller in a fresh call's room and dispatch the agent to it.
 */
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { FakeCaller } from '../../src/agent/testing/fake-caller.js';
import { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { LocalLiveKit } from '../../src/livekit/local.js';
import { phoneParticipantToken } from '../../src/livekit/tokens.js';
import { FakeRealtimeServer } from '../../test/fixtures/fake-realtime/server.js';

export interface OpenAiStackOptions {
  /** Names the agent (`pb-<name>-<pid>`). */
  name: string;
  compiled: boolean;
  replySpeed?: number;
  env?: Record<string, string>;
}

export async function startOpenAiStack(opts: OpenAiStackOptions) {
  const lk = await LocalLiveKit.start();
  const svc = new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
  const dispatcher = new AgentDispatchClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
  const fake = await FakeRealtimeServer.start(
    opts.replySpeed === undefined ? {} : { replySpeed: opts.replySpeed },
  );
  const agentName = `pb-${opts.name}-${process.pid}`;
  const worker = await WorkerProcess.start({
    compiled: opts.compiled,
    env: {
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      AGENT_NAME: agentName,
      AGENT_MODE: 'openai',
      OPENAI_API_KEY: 'sk-test-good-0123456789',
      OPENAI_BASE_URL: fake.baseURL,
      ...opts.env,
    },
    readyTimeoutMs: 180_000,
  });

  /** A fresh room for `callSid` with a fake caller in it, and the agent dispatched. */
  const call = async (callSid: string, identity: string, emptyTimeout = 30) => {
    const room = `call-${callSid}`;
    await svc.createRoom({ name: room, emptyTimeout });
    const caller = new FakeCaller();
    // The phone participant's own grants, as the bridge would join.
    const token = await phoneParticipantToken({
      apiKey: lk.apiKey,
      apiSecret: lk.apiSecret,
      room,
      identity,
      ttlSeconds: 3600,
    });
    await caller.join(lk.url, token);
    const conns = fake.connections.length;
    await dispatcher.createDispatch(room, agentName, {
      metadata: JSON.stringify({ callSid, from: '+15550001111', to: '+15550002222' }),
    });
    return { room, caller, conns };
  };

  const stop = async (): Promise<void> => {
    await worker.stop();
    await fake.close();
    await lk.stop();
  };
  return { lk, svc, fake, worker, agentName, call, stop };
}
