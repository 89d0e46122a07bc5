import twilio from 'twilio';

/**
 * Twilio request signing, done by the official package so the simulator and the server
 * can never agree on a wrong algorithm. The URL is the one Twilio would have requested
 * (the public URL), not the address the simulator physically connects to.
 */

/** `X-Twilio-Signature` for a form POST to `url` with `params`. */
export function signFormPost(
  authToken: string,
  url: string,
  params: Readonly<Record<string, string>>,
): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** `X-Twilio-Signature` for a Media Stream WebSocket upgrade: the wss URL with no parameters. */
export function signWebSocketUrl(authToken: string, wssUrl: string): string {
  return twilio.getExpectedTwilioSignature(authToken, wssUrl, {});
}

/** Joins a base URL (maybe with a path prefix) and a path without doubling slashes. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}
