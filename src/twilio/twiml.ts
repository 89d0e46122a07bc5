import twilio from 'twilio';

const { VoiceResponse } = twilio.twiml;

export interface StreamTwimlOptions {
  /** wss:// URL of our /media-stream (no query string: Twilio rejects one). */
  streamUrl: string;
  parameters: Record<string, string>;
  statusCallbackUrl?: string;
  /** Said if the stream ends while the call is still up, so the caller never hears dead air. */
  goodbye: string;
}

/** `<Connect><Stream>` with the call's context as `<Parameter>`s, then a goodbye. */
export function streamTwiml(opts: StreamTwimlOptions): string {
  const response = new VoiceResponse();
  const connect = response.connect();
  const stream = connect.stream({
    url: opts.streamUrl,
    ...(opts.statusCallbackUrl
      ? { statusCallback: opts.statusCallbackUrl, statusCallbackMethod: 'POST' }
      : {}),
  });
  for (const [name, value] of Object.entries(opts.parameters)) stream.parameter({ name, value });
  response.say(opts.goodbye);
  response.hangup();
  return response.toString();
}

/** `<Reject reason="busy"/>`: the caller hears a busy tone and the call is not billed. */
export function busyTwiml(): string {
  const response = new VoiceResponse();
  response.reject({ reason: 'busy' });
  return response.toString();
}

/** `<Hangup/>`: for an answered outbound call that has nothing left to connect to. */
export function hangupTwiml(): string {
  const response = new VoiceResponse();
  response.hangup();
  return response.toString();
}

/** A spoken apology and a hang-up, for failures after the call was answered. */
export function apologyTwiml(message: string): string {
  const response = new VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}

export interface SipTwimlOptions {
  sipUri: string;
  username?: string;
  password?: string;
}

/** `<Dial><Sip>`: hands the call to LiveKit SIP; audio then never touches this process. */
export function sipTwiml(opts: SipTwimlOptions): string {
  const response = new VoiceResponse();
  const dial = response.dial();
  dial.sip(
    opts.username && opts.password ? { username: opts.username, password: opts.password } : {},
    opts.sipUri,
  );
  return response.toString();
}

/** TwiML for a live transfer: `<Dial>` the number, used with the REST API's call update. */
export function transferTwiml(to: string): string {
  const response = new VoiceResponse();
  response.dial(to);
  return response.toString();
}
