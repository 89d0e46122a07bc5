import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe } from 'vitest';
import type { CalleeScenario } from '../../src/sim/callee.js';
import { TwilioEmulator } from '../../src/sim/twilio-rest.js';
import { AUTH_TOKEN, startPhonebridge, type TestServer } from './phonebridge.js';

export const API_KEY = 'test-api-key-0123456789abcdef';
export const FROM_NUMBER = '+15555550100';

export interface OutboundStack {
  emu: TwilioEmulator;
  pb: TestServer;
  /** Who answers which number in this stack's emulation (default: a person). */
  scenarios: Map<string, CalleeScenario>;
  /** A request to phonebridge's API with the test key (or `key`, or none with `null`). */
  api: (
    method: string,
    path: string,
    body?: unknown,
    opts?: { key?: string | null; headers?: Record<string, string> },
  ) => Promise<{ status: number; json: any; headers: Headers }>;
  /** POST /calls, expecting 201; resolves with its answer. */
  dial: (
    body: Record<string, unknown>,
  ) => Promise<{ callSid: string; room: string; status: string }>;
}

/**
 * A phonebridge that places calls through a local emulation of Twilio's REST API
 * (TWILIO_API_BASE_URL), against the run's real livekit-server.
 */
export async function startOutboundStack(env: Record<string, string> = {}): Promise<OutboundStack> {
  const scenarios = new Map<string, CalleeScenario>();
  const emu = await TwilioEmulator.start({
    authToken: AUTH_TOKEN,
    scenarioFor: (to) => scenarios.get(to) ?? { kind: 'human' },
  });
  const pb = await startPhonebridge({
    PHONEBRIDGE_API_KEY: API_KEY,
    TWILIO_ACCOUNT_SID: emu.accountSid,
    TWILIO_API_BASE_URL: emu.url,
    TWILIO_FROM_NUMBER: FROM_NUMBER,
    OUTBOUND_ALLOWED_PREFIXES: '+1555',
    ...env,
  });
  const api: OutboundStack['api'] = async (method, path, body, opts = {}) => {
    const key = opts.key === undefined ? API_KEY : opts.key;
    const res = await fetch(`${pb.url}${path}`, {
      method,
      headers: {
        ...(key !== null && { authorization: `Bearer ${key}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...opts.headers,
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json, headers: res.headers };
  };
  const dial: OutboundStack['dial'] = async (body) => {
    const r = await api('POST', '/calls', body);
    if (r.status !== 201)
      throw new Error(`POST /calls answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json as { callSid: string; room: string; status: string };
  };
  return { emu, pb, scenarios, api, dial };
}

/** One outbound stack for a describe block. */
export function useOutboundStack(env: Record<string, string> = {}): () => OutboundStack {
  let stack: OutboundStack | undefined;
  beforeAll(async () => {
    stack = await startOutboundStack(env);
  });
  afterAll(async () => {
    await stack?.pb.stop();
    await stack?.emu.close();
  });
  return () => stack!;
}

/**
 * `describe` for tests that need redis-server, which the project cannot install: outside CI
 * they are skipped with one visible line naming the package; in CI (CI=true) they run, and
 * fail without it.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  const installed = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!installed && process.env.CI !== 'true') {
    console.warn(`skipping "${name}": redis-server is not installed (Debian package redis-server)`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}
