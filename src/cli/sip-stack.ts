import { randomBytes } from 'node:crypto';
import type { Env } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SipProvisioner } from '../livekit/sip-provisioning.js';

/** Where `dev --sip` points the TwiML when LIVEKIT_SIP_HOST is unset: nothing listens there. */
export const LOCAL_SIP_HOST = '127.0.0.1:5060';

/** The SIP user `dev --sip` makes up when the environment restricts the trunk in no way. */
export const DEV_SIP_USERNAME = 'phonebridge-dev';

/**
 * SIP-mode settings for a local stack: BRIDGE_MODE=sip, a SIP host, and SIP credentials
 * generated for this run unless the environment restricts the trunk already.
 */
export function sipStackEnv(env: Env): void {
  env.BRIDGE_MODE = 'sip';
  env.LIVEKIT_SIP_HOST ||= LOCAL_SIP_HOST;
  if (env.SIP_USERNAME || env.SIP_ALLOWED_ADDRESSES) return;
  env.SIP_USERNAME = DEV_SIP_USERNAME;
  env.SIP_PASSWORD = randomBytes(18).toString('base64url');
}

/** `phonebridge sip setup` for the stack, before the server's start-up check runs. */
export async function provisionSipForStack(
  config: Config,
  onProgress?: (line: string) => void,
): Promise<void> {
  onProgress?.('Provisioning the SIP trunk and dispatch rule…');
  const provisioner = new SipProvisioner(
    {
      url: config.LIVEKIT_URL!,
      apiKey: config.LIVEKIT_API_KEY!,
      apiSecret: config.LIVEKIT_API_SECRET!,
    },
    config,
  );
  const { actions, state } = await provisioner.setup();
  onProgress?.(
    `SIP: ${actions.join(', ')} (trunk ${state.trunk?.item.sipTrunkId}, rule ${state.rule?.item.sipDispatchRuleId})`,
  );
}
