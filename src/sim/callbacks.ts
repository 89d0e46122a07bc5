import { describeError } from '../errors.js';
import { signFormPost } from './signing.js';

export interface CallbackResult {
  url: string;
  status: number | null;
  body: string;
  contentType: string;
  error?: string;
}

/**
 * Twilio's side of its webhooks: a form POST signed over the URL it was given. `rewrite`
 * maps that (public) URL to where the server physically listens, as a tunnel would; the
 * signature is always over the URL as given.
 */
export class SignedPoster {
  constructor(
    private readonly authToken: string,
    private readonly rewrite: (url: string) => string = (u) => u,
  ) {}

  /** Never throws: a failed request is in the result, as Twilio's debugger would log it. */
  async post(
    url: string,
    params: Record<string, string>,
    timeoutMs = 15_000,
  ): Promise<CallbackResult> {
    try {
      const res = await fetch(this.rewrite(url), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
          'X-Twilio-Signature': signFormPost(this.authToken, url, params),
          'User-Agent': 'TwilioProxy/1.1',
          Accept: '*/*',
        },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return {
        url,
        status: res.status,
        body: await res.text(),
        contentType: res.headers.get('content-type') ?? '',
      };
    } catch (err) {
      return { url, status: null, body: '', contentType: '', error: describeError(err) };
    }
  }
}

/**
 * The status callbacks of one call, delivered one at a time in order with Twilio's
 * `SequenceNumber` (from 0), `Timestamp` and `CallbackSource`, to the events the create
 * request asked for (`StatusCallbackEvent`; `completed` alone by default). A call that
 * ends unanswered (busy, no-answer, failed, canceled) reports it as the `completed` event.
 */
export class StatusCallbacks {
  private sequence = 0;
  private chain: Promise<void> = Promise.resolve();
  readonly sent: { event: string; params: Record<string, string>; result: CallbackResult }[] = [];

  constructor(
    private readonly poster: SignedPoster,
    private readonly url: string | undefined,
    private readonly events: ReadonlySet<string>,
  ) {}

  /** Queues the callback for `event` with the call's current parameters. */
  send(
    event: 'initiated' | 'ringing' | 'answered' | 'completed',
    params: Record<string, string>,
  ): void {
    const url = this.url;
    if (!url || !this.events.has(event)) return;
    const full = {
      ...params,
      Timestamp: new Date().toUTCString(),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.sequence++),
    };
    this.chain = this.chain.then(async () => {
      const result = await this.poster.post(url, full);
      this.sent.push({ event, params: full, result });
    });
  }

  /** Resolves once every queued callback has been answered (or failed). */
  flushed(): Promise<void> {
    return this.chain;
  }
}
