import type { Config } from '../../config/schema.js';
import type { PbError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { toOpenAIError } from './errors.js';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * The worker hands its latest verdict on the key to the job processes it forks through
 * this variable (children inherit the environment at fork time), so no call waits for a
 * key check and the operator sees one warning per worker, not one per call.
 */
export const KEY_STATUS_ENV = 'PHONEBRIDGE_OPENAI_KEY_STATUS';

/** What `GET {base}/models` says about the key. */
export type KeyCheck =
  | { verdict: 'accepted' }
  /** 401 or 403: the key is bad, and a Realtime session would fail the same way. */
  | { verdict: 'rejected'; error: PbError }
  /**
   * Anything else (404/405 from a gateway that serves the Realtime socket but not
   * /models, 5xx, a timeout, no answer): says nothing about the key.
   */
  | { verdict: 'unverified'; reason: string };

/** One `GET {base}/models`: free, fast, and answered 401 for a bad key. Never throws. */
export async function checkOpenAIKey(config: Config, timeoutMs = 5000): Promise<KeyCheck> {
  const base = (config.OPENAI_BASE_URL ?? DEFAULT_OPENAI_BASE_URL).replace(/\/$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/models`, {
      headers: { authorization: `Bearer ${config.OPENAI_API_KEY ?? ''}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    return {
      verdict: 'unverified',
      reason: timedOut ? `no answer within ${timeoutMs} ms` : `${base} is unreachable`,
    };
  }
  if (res.ok) {
    await res.body?.cancel();
    return { verdict: 'accepted' };
  }
  if (res.status === 401 || res.status === 403) {
    const body = (await res.json().catch(() => null)) as { error?: Record<string, unknown> } | null;
    const error = toOpenAIError({
      status: res.status,
      body: body?.error ?? null,
      message: res.statusText,
    });
    return { verdict: 'rejected', error };
  }
  await res.body?.cancel();
  return { verdict: 'unverified', reason: `GET ${base}/models answered ${res.status}` };
}

/**
 * The worker's view of the key: checked before the first job process is forked, again
 * (in the background, at most every `recheckMs`) when a job arrives, and published to
 * `KEY_STATUS_ENV` for the processes forked after. Logs each change of verdict once.
 */
export class OpenAIKeyWatch {
  private last?: { at: number; verdict: KeyCheck['verdict'] };
  private inFlight?: Promise<KeyCheck>;
  private warnedUnverified = false;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly opts: {
      recheckMs?: number;
      env?: NodeJS.ProcessEnv;
      check?: (config: Config) => Promise<KeyCheck>;
    } = {},
  ) {}

  /** Checks now (sharing a check already under way) and publishes the verdict. */
  check(): Promise<KeyCheck> {
    this.inFlight ??= (this.opts.check ?? checkOpenAIKey)(this.config)
      .then((result) => {
        this.record(result);
        return result;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** A check in the background if the last one is older than `recheckMs`. */
  refresh(): void {
    if (this.inFlight) return;
    if (this.last && Date.now() - this.last.at < (this.opts.recheckMs ?? 30_000)) return;
    void this.check();
  }

  private record(result: KeyCheck): void {
    const previous = this.last?.verdict;
    this.last = { at: Date.now(), verdict: result.verdict };
    (this.opts.env ?? process.env)[KEY_STATUS_ENV] = result.verdict;
    if (result.verdict === previous) return;
    switch (result.verdict) {
      case 'accepted':
        this.logger.info('OpenAI API key accepted');
        break;
      case 'rejected': {
        // A restricted key without "Models: read" is refused /models (403) and may still
        // open Realtime sessions: name that way out too.
        const hint = result.error.message.includes('(403)')
          ? 'check OPENAI_API_KEY, and that a restricted key may read models'
          : 'check OPENAI_API_KEY';
        this.logger.error(
          { code: result.error.code },
          `${result.error.message}; calls will hear an apology until this is fixed (${hint})`,
        );
        break;
      }
      case 'unverified':
        // Once per worker: a gateway without /models would otherwise warn on every check.
        if (this.warnedUnverified) break;
        this.warnedUnverified = true;
        this.logger.warn(
          { reason: result.reason },
          `Could not verify the OpenAI API key (${result.reason}); calls go ahead, and a bad key will show as a Realtime session error`,
        );
        break;
    }
  }
}

/**
 * The job's key gate, before a Realtime session opens. It costs nothing unless the worker
 * saw the key rejected: then it checks once more (the key may have been fixed since) and
 * throws PB_ERR_OPENAI_AUTH if it is still refused, keeping the bad key off the socket.
 * Without a verdict from the worker (a job run on its own) it checks itself.
 */
export async function ensureKeyForCall(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  check: (config: Config) => Promise<KeyCheck> = checkOpenAIKey,
): Promise<void> {
  const status = env[KEY_STATUS_ENV];
  if (status === 'accepted' || status === 'unverified') return;
  const result = await check(config);
  if (result.verdict === 'rejected') throw result.error;
}
