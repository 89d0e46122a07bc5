import { randomBytes } from 'node:crypto';
import type { Env } from '../config/load.js';
import type { Logger } from '../log.js';
import { devScenarios, EMULATED_NUMBERS } from '../sim/callee.js';
import { TwilioEmulator } from '../sim/twilio-rest.js';

export interface DevEmulator {
  emulator: TwilioEmulator;
  /** The environment for the stack: Twilio's REST API is the emulation. */
  env: Env;
  /** True when TWILIO_AUTH_TOKEN was made up for this run. */
  generatedToken: boolean;
  /** Lines for dev's banner: how to place a call, and who answers which number. */
  banner(serverUrl: string): string[];
}

/**
 * `phonebridge dev --twilio-emulator`: Twilio's REST API emulated in this process, so
 * `phonebridge dial` works offline. What the emulation needs and the environment does not
 * give (API key, caller ID, allowed prefixes, auth token) is made up for the run.
 */
export async function startDevEmulator(base: Env, log: Logger): Promise<DevEmulator> {
  const env: Env = { ...base };
  const generatedToken = !env.TWILIO_AUTH_TOKEN;
  env.TWILIO_AUTH_TOKEN ||= randomBytes(16).toString('hex');
  const generatedKey = !env.PHONEBRIDGE_API_KEY;
  env.PHONEBRIDGE_API_KEY ||= randomBytes(24).toString('hex');
  env.TWILIO_FROM_NUMBER ||= '+15555550100';
  env.OUTBOUND_ALLOWED_PREFIXES ||= '+1555';
  const emulator = await TwilioEmulator.start({
    authToken: env.TWILIO_AUTH_TOKEN,
    scenarioFor: await devScenarios(),
    log: log.child({ component: 'twilio-emulator' }),
  });
  env.TWILIO_API_BASE_URL = emulator.url;
  env.TWILIO_ACCOUNT_SID = emulator.accountSid;
  const key = env.PHONEBRIDGE_API_KEY.split(',')[0]!;
  return {
    emulator,
    env,
    generatedToken,
    banner: (serverUrl) => [
      `  Twilio API   ${emulator.url} (emulated; TWILIO_API_BASE_URL points there)`,
      generatedKey ? `  API key      ${key} (generated for this run)` : '',
      '',
      'Place an outbound call in another terminal:',
      `  PHONEBRIDGE_API_KEY=${generatedKey ? key : '<your key>'} npx phonebridge dial +15555550111 --url ${serverUrl} --wait`,
      `  Emulated callees: ${Object.entries(EMULATED_NUMBERS)
        .map(([n, k]) => `${n} ${k}`)
        .join(', ')}; any other +1555 number: a person.`,
    ],
  };
}
