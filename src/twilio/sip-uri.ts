/**
 * The SIP URI Twilio dials for `<Dial><Sip>`. Twilio turns `?name=value` pairs after the URI
 * into SIP headers of its INVITE (custom ones must start with `X-`); everything is escaped
 * as RFC 3261 §25.1 requires, because From/To can be SIP URIs or words, not only E.164.
 */

import type { Config } from '../config/schema.js';
import { SIP_CALL_HEADERS } from '../livekit/sip-spec.js';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface SipDialUriOptions {
  /** The request URI's user part: LiveKit's callee dispatch rule turns it into the room name. */
  user: string;
  /** `host` or `host:port` of the LiveKit SIP service. */
  host: string;
  transport: SipTransport;
  /** Custom headers for the INVITE, `X-…` names. */
  headers?: Record<string, string>;
}

// user = 1*( unreserved / escaped / user-unreserved ); only unreserved (alphanum / mark) is
// kept as is, so a user part can never be mistaken for parameters or headers.
const USER_SAFE = /[A-Za-z0-9\-_.!~*'()]/;
// hvalue = *( hnv-unreserved / unreserved / escaped ).
const HVALUE_SAFE = /[A-Za-z0-9\-_.!~*'()[\]/?:+$]/;
const HEADER_NAME = /^X-[A-Za-z0-9-]{1,64}$/;

function escape(value: string, safe: RegExp): string {
  let out = '';
  for (const ch of value) {
    if (safe.test(ch)) out += ch;
    else
      for (const byte of new TextEncoder().encode(ch))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `sip:user@host;transport=tcp?X-A=1&X-B=2`; UDP, Twilio's default, carries no parameter. */
export function sipDialUri(opts: SipDialUriOptions): string {
  if (!opts.user) throw new Error('a SIP URI needs a user part');
  const transport = opts.transport === 'udp' ? '' : `;transport=${opts.transport}`;
  const headers = Object.entries(opts.headers ?? {}).map(([name, value]) => {
    if (!HEADER_NAME.test(name)) throw new Error(`not a custom SIP header name: ${name}`);
    return `${name}=${escape(value, HVALUE_SAFE)}`;
  });
  const query = headers.length > 0 ? `?${headers.join('&')}` : '';
  return `sip:${escape(opts.user, USER_SAFE)}@${opts.host}${transport}${query}`;
}

/** The reverse, for tests and the simulator: user, host, URI parameters and decoded headers. */
export function parseSipUri(uri: string): {
  user: string;
  host: string;
  params: Record<string, string>;
  headers: Record<string, string>;
} {
  const m = /^sips?:([^@]+)@([^;?]+)((?:;[^;?]*)*)(?:\?(.*))?$/.exec(uri.trim());
  if (!m) throw new Error(`not a SIP URI: ${uri}`);
  const params: Record<string, string> = {};
  for (const p of (m[3] ?? '').split(';').filter(Boolean)) {
    const [k = '', v = ''] = p.split('=');
    params[k] = v;
  }
  const headers: Record<string, string> = {};
  for (const h of (m[4] ?? '').split('&').filter(Boolean)) {
    const i = h.indexOf('=');
    headers[decodeURIComponent(i < 0 ? h : h.slice(0, i))] =
      i < 0 ? '' : decodeURIComponent(h.slice(i + 1));
  }
  return { user: decodeURIComponent(m[1]!), host: m[2]!, params, headers };
}

/**
 * The URI our SIP-mode TwiML dials: user = the call's room (the dispatch rule's room name),
 * with the webhook's CallSid, caller and called number as headers the trunk maps to
 * participant attributes.
 */
export function sipCallUri(
  config: Pick<Config, 'LIVEKIT_SIP_HOST' | 'SIP_TRANSPORT'>,
  room: string,
  call: { CallSid: string; From: string; To: string },
): string {
  if (!config.LIVEKIT_SIP_HOST) throw new Error('LIVEKIT_SIP_HOST is not set');
  return sipDialUri({
    user: room,
    host: config.LIVEKIT_SIP_HOST,
    transport: config.SIP_TRANSPORT,
    headers: {
      [SIP_CALL_HEADERS.callSid.header]: call.CallSid,
      ...(call.From && { [SIP_CALL_HEADERS.from.header]: call.From }),
      ...(call.To && { [SIP_CALL_HEADERS.to.header]: call.To }),
    },
  });
}
