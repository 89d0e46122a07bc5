import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { isPbError } from '../../errors.js';
import { createLogger } from '../../log.js';
import {
  KEY_STATUS_ENV,
  OpenAIKeyWatch,
  checkOpenAIKey,
  ensureKeyForCall,
  type KeyCheck,
} from './preflight.js';

/** A /models endpoint answering with the status named in the path: /<status>/models. */
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const status = Number(req.url?.split('/')[1]);
    if (status === 0) return; // never answers
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status < 300 ? { data: [] } : { error: { message: 'no' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const configFor = (status: number) =>
  loadConfig({ OPENAI_API_KEY: 'sk-test-0123456789', OPENAI_BASE_URL: `${base}/${status}` });

/** A logger whose lines land in `lines`. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { logger, lines };
}

describe('checkOpenAIKey', () => {
  it('only 401 and 403 reject the key', async () => {
    expect((await checkOpenAIKey(configFor(200))).verdict).toBe('accepted');
    for (const status of [401, 403]) {
      const r = await checkOpenAIKey(configFor(status));
      expect(r.verdict).toBe('rejected');
      if (r.verdict !== 'rejected') continue;
      expect(isPbError(r.error, 'PB_ERR_OPENAI_AUTH')).toBe(true);
      expect(r.error.message).toBe(`OpenAI rejected the API key (${status})`);
    }
  });

  it('a gateway without /models, a 5xx or no answer leave the key unverified', async () => {
    for (const status of [404, 405, 500, 503]) {
      const r = await checkOpenAIKey(configFor(status));
      expect(r).toEqual({ verdict: 'unverified', reason: expect.stringContaining(`${status}`) });
    }
    const slow = await checkOpenAIKey(configFor(0), 200);
    expect(slow).toEqual({ verdict: 'unverified', reason: 'no answer within 200 ms' });
    const closed = await checkOpenAIKey(
      loadConfig({ OPENAI_API_KEY: 'sk-test-0123456789', OPENAI_BASE_URL: 'http://127.0.0.1:1' }),
    );
    expect(closed.verdict).toBe('unverified');
  });
});

describe('OpenAIKeyWatch', () => {
  it('warns once per worker about an unverifiable key, however often it checks', async () => {
    const { logger, lines } = capture();
    const env: NodeJS.ProcessEnv = {};
    const watch = new OpenAIKeyWatch(configFor(404), logger, { env, recheckMs: 0 });
    for (let i = 0; i < 3; i++) await watch.check();
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('Could not verify the OpenAI API key');
    expect(warnings[0]!.msg).toContain('404');
    expect(env[KEY_STATUS_ENV]).toBe('unverified');
  });

  it('publishes each verdict for the processes it forks, and logs each change once', async () => {
    const { logger, lines } = capture();
    const env: NodeJS.ProcessEnv = {};
    const answers: KeyCheck[] = [
      { verdict: 'accepted' },
      { verdict: 'accepted' },
      await checkOpenAIKey(configFor(401)),
    ];
    const watch = new OpenAIKeyWatch(configFor(200), logger, {
      env,
      check: async () => answers.shift()!,
    });
    await watch.check();
    expect(env[KEY_STATUS_ENV]).toBe('accepted');
    await watch.check();
    await watch.check();
    expect(env[KEY_STATUS_ENV]).toBe('rejected');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'OpenAI API key accepted'],
      [
        50,
        'OpenAI rejected the API key (401); calls will hear an apology until this is fixed (check OPENAI_API_KEY)',
      ],
    ]);
  });

  it('refresh() checks in the background at most once per period', async () => {
    let checks = 0;
    const watch = new OpenAIKeyWatch(configFor(200), capture().logger, {
      env: {},
      recheckMs: 60_000,
      check: async () => {
        checks++;
        return { verdict: 'accepted' };
      },
    });
    watch.refresh();
    watch.refresh();
    await watch.check();
    watch.refresh();
    expect(checks).toBe(1);
  });
});

describe('ensureKeyForCall', () => {
  const never = async (): Promise<KeyCheck> => {
    throw new Error('must not check');
  };

  it('costs nothing when the worker found the key good or unverifiable', async () => {
    await ensureKeyForCall(configFor(200), { [KEY_STATUS_ENV]: 'accepted' }, never);
    await ensureKeyForCall(configFor(404), { [KEY_STATUS_ENV]: 'unverified' }, never);
  });

  it('checks again when the worker saw the key rejected, and throws if it still is', async () => {
    const rejected = { [KEY_STATUS_ENV]: 'rejected' };
    await expect(ensureKeyForCall(configFor(401), rejected)).rejects.toMatchObject({
      code: 'PB_ERR_OPENAI_AUTH',
    });
    // Fixed since: the call goes ahead.
    await ensureKeyForCall(configFor(200), rejected);
    // A gateway without /models never stops a call.
    await ensureKeyForCall(configFor(404), {});
  });
});
