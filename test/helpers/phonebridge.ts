import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server/start.js';
import { twilioSignature } from '../../src/twilio/signature.js';
import { afterAll, beforeAll } from 'vitest';
import { livekit, waitFor } from './livekit.js';

export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const ACCOUNT_SID = 'AC' + '1'.repeat(32);

export interface TestServer {
  server: RunningServer;
  url: string;
  config: Config;
  logs: Record<string, unknown>[];
  /** Resolves once a log line with this message has been written for the call. */
  waitForLog: (callSid: string, msg: string | RegExp, timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

/** A test server's config: loopback, a free port, `lk`, no agent dispatch, no drain wait. */
export function testConfig(
  lk: { url: string; apiKey: string; apiSecret: string },
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    LIVEKIT_URL: lk.url,
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    AGENT_DISPATCH: 'false',
    // Tests end whatever is left at stop(); the drain itself has its own test.
    DRAIN_TIMEOUT_MS: '0',
    ...env,
  });
}

/** A real phonebridge on a free port against the run's real livekit-server (or `lk`); logs captured. */
export async function startPhonebridge(
  env: Record<string, string> = {},
  lk: { url: string; apiKey: string; apiSecret: string } = livekit(),
): Promise<TestServer> {
  const config = testConfig(lk, { LOG_LEVEL: 'debug', ...env });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const server = await startServer(
    config,
    createLogger({ level: config.LOG_LEVEL, destination: sink }),
  );
  const waitForLog = (callSid: string, msg: string | RegExp, timeoutMs = 10_000): Promise<void> =>
    waitFor(
      () =>
        logs.some(
          (l) =>
            l.callSid === callSid &&
            (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))),
        ),
      timeoutMs,
      `log "${String(msg)}" for ${callSid}`,
    );
  return { server, url: server.url, config, logs, waitForLog, stop: () => server.shutdown() };
}

/** One phonebridge for a describe block, started before and stopped after its tests. */
export function usePhonebridge(env: Record<string, string> = {}): () => TestServer {
  let pb: TestServer | undefined;
  beforeAll(async () => {
    pb = await startPhonebridge(env);
  });
  afterAll(async () => {
    await pb?.stop();
  });
  return () => pb!;
}

/** Places a signed webhook for a fresh call and returns its stream `<Parameter>`s. */
export async function admitCall(
  pb: TestServer,
  extra: Record<string, string> = {},
): Promise<{ sid: string; params: Record<string, string> }> {
  const sid = callSid();
  const twiml = parseTwimlXml(
    await (await twilioPost(pb.url, '/incoming-call', callParams(sid, extra))).text(),
  );
  return { sid, params: streamParams(twiml) };
}

export function callSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

export function callParams(
  sid = callSid(),
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    CallSid: sid,
    AccountSid: ACCOUNT_SID,
    From: '+15551234567',
    To: '+15557654321',
    CallStatus: 'ringing',
    Direction: 'inbound',
    ApiVersion: '2010-04-01',
    ...extra,
  };
}

export interface PostOptions {
  /** The base URL Twilio "used" (PUBLIC_URL); defaults to the server's own. */
  signedBase?: string;
  token?: string;
  signature?: string | null;
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
}

/** POSTs a form the way Twilio does, signed over signedBase + path. */
export async function twilioPost(
  base: string,
  path: string,
  params: Record<string, string>,
  opts: PostOptions = {},
): Promise<Response> {
  const signed = `${opts.signedBase ?? base}${path}`;
  const sig =
    opts.signature === undefined
      ? twilioSignature(opts.token ?? AUTH_TOKEN, signed, params)
      : opts.signature;
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      ...(sig === null ? {} : { 'x-twilio-signature': sig }),
      ...opts.headers,
    },
    body: opts.body ?? new URLSearchParams(params).toString(),
  });
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (name) => name === 'Parameter',
});

/** TwiML as a structure, for assertions that do not depend on formatting. */
export function parseTwimlXml(body: string): Record<string, any> {
  return xml.parse(body) as Record<string, any>;
}

export function streamParams(twiml: Record<string, any>): Record<string, string> {
  const params = twiml.Response.Connect.Stream.Parameter as { '@name': string; '@value': string }[];
  return Object.fromEntries(params.map((p) => [p['@name'], p['@value']]));
}
