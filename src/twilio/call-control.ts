import type { Twilio } from 'twilio';
import type { Logger } from '../log.js';
import { createTwilioClient } from './rest-client.js';
import { transferTwiml } from './twiml.js';

/** An outbound call to place: where Twilio fetches TwiML and posts its callbacks. */
export interface PlaceCallRequest {
  to: string;
  from: string;
  /** TwiML webhook (POST), asked when the callee answers. */
  url: string;
  statusCallback: string;
  asyncAmdStatusCallback: string;
  timeoutSeconds: number;
}

/** What the bridge and the API ask of Twilio's REST API: hang up, transfer, dial. */
export interface CallControl {
  readonly available: boolean;
  hangup(callSid: string): Promise<void>;
  transfer(callSid: string, to: string): Promise<void>;
  /** Creates the call; resolves with its CallSid and the status Twilio gave it (queued). */
  place(req: PlaceCallRequest): Promise<{ sid: string; status: string }>;
}

const notConfigured = (): Promise<never> =>
  Promise.reject(
    new Error('Twilio REST API not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)'),
  );

/** Without an Account SID and Auth Token there is no REST API: every action says so. */
export const noCallControl: CallControl = {
  available: false,
  hangup: notConfigured,
  transfer: notConfigured,
  place: notConfigured,
};

/**
 * Twilio's REST API through the official client. `baseUrl` (TWILIO_API_BASE_URL) receives
 * every request the client makes.
 */
export function twilioCallControl(
  accountSid: string,
  authToken: string,
  log: Logger,
  baseUrl?: string,
): CallControl {
  let client: Promise<Twilio> | undefined;
  const get = () =>
    (client ??= createTwilioClient({ accountSid, authToken, timeoutMs: 5000, baseUrl }));
  return {
    available: true,
    async hangup(callSid) {
      await (await get()).calls(callSid).update({ status: 'completed' });
      log.info({ callSid }, 'Ended call through the Twilio REST API');
    },
    async transfer(callSid, to) {
      // Redirecting the live call to new TwiML ends its media stream and dials the number.
      await (await get()).calls(callSid).update({ twiml: transferTwiml(to) });
      log.info({ callSid }, 'Transferred call through the Twilio REST API');
    },
    async place(req) {
      const call = await (
        await get()
      ).calls.create({
        to: req.to,
        from: req.from,
        url: req.url,
        method: 'POST',
        statusCallback: req.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        // DetectMessageEnd: for a machine, the verdict comes when its greeting has ended,
        // which is the moment to leave a message. Async: the call connects at once (the
        // callee's first words reach the agent) and the verdict arrives on its own.
        machineDetection: 'DetectMessageEnd',
        asyncAmd: 'true',
        asyncAmdStatusCallback: req.asyncAmdStatusCallback,
        asyncAmdStatusCallbackMethod: 'POST',
        timeout: req.timeoutSeconds,
      });
      return { sid: call.sid, status: call.status };
    },
  };
}
