import { PbError } from '../../errors.js';

/** What we could learn from an OpenAI failure, whichever layer reported it. */
interface ErrorShape {
  status?: number;
  code?: string;
  type?: string;
  message: string;
}

function shapeOf(err: unknown): ErrorShape {
  if (err instanceof PbError) return { message: err.message };
  const e = err as {
    statusCode?: number;
    status?: number;
    body?: { code?: string; type?: string; message?: string } | null;
    code?: string;
    type?: string;
    message?: string;
    error?: unknown;
  } | null;
  if (e && typeof e === 'object' && 'error' in e && e.error && typeof e.error === 'object') {
    // RealtimeModelError and friends wrap the real error.
    const inner = shapeOf(e.error);
    if (inner.code || inner.status || inner.type) return inner;
  }
  const status = e?.statusCode ?? e?.status;
  const code = e?.body?.code ?? (typeof e?.code === 'string' ? e.code : undefined);
  const type = e?.body?.type ?? e?.type;
  const message = e?.body?.message ?? e?.message ?? String(err);
  const fromText = /\b(401|403|429|5\d\d)\b/.exec(message)?.[1];
  return {
    status: typeof status === 'number' ? status : fromText ? Number(fromText) : undefined,
    code,
    type,
    message,
  };
}

/**
 * Turns any OpenAI failure (HTTP status, Realtime `error` event, failed `response.done`,
 * plugin APIError) into a PbError whose message is the one clear log line operators see.
 */
export function toOpenAIError(err: unknown): PbError {
  if (err instanceof PbError) return err;
  const s = shapeOf(err);
  const key = `${s.code ?? ''} ${s.type ?? ''}`;
  if (s.status === 401 || s.status === 403 || /invalid_api_key|account_deactivated/.test(key)) {
    const status = s.status === 403 ? 403 : 401;
    return new PbError('PB_ERR_OPENAI_AUTH', `OpenAI rejected the API key (${status})`, {
      cause: err,
    });
  }
  if (/insufficient_quota|billing_hard_limit/.test(key)) {
    return new PbError('PB_ERR_OPENAI', 'OpenAI quota exhausted (insufficient_quota)', {
      cause: err,
    });
  }
  if (s.status === 429 || /rate_limit/.test(key)) {
    return new PbError('PB_ERR_OPENAI', 'OpenAI rate limit reached (429)', {
      cause: err,
      retryable: true,
    });
  }
  const status = s.status ? ` (${s.status})` : s.code ? ` (${s.code})` : '';
  return new PbError('PB_ERR_OPENAI', `OpenAI request failed${status}: ${s.message}`, {
    cause: err,
    retryable: s.status === undefined || s.status >= 500,
  });
}
