import type { Twilio } from 'twilio';
import type { Logger } from '../log.js';
import { transferTwiml } from './twiml.js';

/** The two things the bridge asks of Twilio's REST API: hang up, and transfer. */
export interface CallControl {
  readonly available: boolean;
  hangup(callSid: string): Promise<void>;
  transfer(callSid: string, to: string): Promise<void>;
}

/** Without an Account SID and Auth Token there is no REST API: every action says so. */
export const noCallControl: CallControl = {
  available: false,
  hangup: () =>
    Promise.reject(
      new Error('Twilio REST API not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)'),
    ),
  transfer: () =>
    Promise.reject(
      new Error('Twilio REST API not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)'),
    ),
};

/** Twilio's REST API through the official client, loaded on first use (it is large). */
export function twilioCallControl(accountSid: string, authToken: string, log: Logger): CallControl {
  let client: Promise<Twilio> | undefined;
  const get = () =>
    (client ??= import('twilio').then((m) =>
      m.default(accountSid, authToken, { timeout: 5000, autoRetry: true, maxRetries: 2 }),
    ));
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
  };
}
