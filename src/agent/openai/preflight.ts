import type { Config } from '../../config/schema.js';
import { PbError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { toOpenAIError } from './errors.js';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * Checks the key with `GET {base}/models`: free, fast, and answered 401 for a bad key.
 * Throws PbError (PB_ERR_OPENAI_AUTH for a rejected key, PB_ERR_OPENAI otherwise).
 */
export async function verifyOpenAIKey(config: Config, timeoutMs = 5000): Promise<void> {
  const base = (config.OPENAI_BASE_URL ?? DEFAULT_OPENAI_BASE_URL).replace(/\/$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/models`, {
      headers: { authorization: `Bearer ${config.OPENAI_API_KEY ?? ''}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new PbError('PB_ERR_OPENAI', `OpenAI is unreachable at ${base}`, {
      cause: err,
      retryable: true,
    });
  }
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const body = (await res.json().catch(() => null)) as { error?: Record<string, unknown> } | null;
  throw toOpenAIError({ status: res.status, body: body?.error ?? null, message: res.statusText });
}

/**
 * Start-up check for `phonebridge agent`. It logs and returns rather than throws: the worker
 * still starts so callers hear an apology instead of ringing into nothing, and a key fixed on
 * OpenAI's side (billing, rotation) works without a restart.
 */
export async function checkOpenAIKey(config: Config, logger: Logger): Promise<boolean> {
  try {
    await verifyOpenAIKey(config);
    logger.info('OpenAI API key accepted');
    return true;
  } catch (err) {
    const e = toOpenAIError(err);
    logger.error(
      { code: e.code },
      `${e.message}; calls will hear an apology until this is fixed (check OPENAI_API_KEY)`,
    );
    return false;
  }
}
