import type { Config } from '../config/schema.js';
import { PbError, isPbError } from '../errors.js';
import type { Logger } from '../log.js';
import { SipProvisioner, describeProblems } from '../livekit/sip-provisioning.js';

/**
 * BRIDGE_MODE=sip answers every call with a URI that only LiveKit's trunk and dispatch rule
 * make land in the call's room: if they are missing or stale, every call would fail at
 * LiveKit, so start-up stops with one line naming what is missing. A LiveKit that cannot be
 * asked (unreachable, or a key without SIP admin permission) is logged and not fatal, as
 * for the room API.
 */
export async function checkSipProvisioning(config: Config, log: Logger): Promise<void> {
  if (!config.LIVEKIT_URL || !config.LIVEKIT_API_KEY || !config.LIVEKIT_API_SECRET) return;
  const provisioner = new SipProvisioner(
    {
      url: config.LIVEKIT_URL,
      apiKey: config.LIVEKIT_API_KEY,
      apiSecret: config.LIVEKIT_API_SECRET,
    },
    config,
  );
  let problems: string | undefined;
  try {
    const state = await provisioner.inspect();
    problems = describeProblems(state);
    if (!problems) {
      log.info(
        { trunk: state.trunk?.item.sipTrunkId, rule: state.rule?.item.sipDispatchRuleId },
        'SIP mode: the inbound trunk and dispatch rule match the configuration',
      );
      return;
    }
  } catch (err) {
    if (isPbError(err, 'PB_ERR_LIVEKIT_UNREACHABLE') || isPbError(err, 'PB_ERR_LIVEKIT_AUTH')) {
      log.warn({ reason: err.message }, 'SIP mode: could not check the trunk and dispatch rule');
      return;
    }
    if (isPbError(err))
      throw new PbError(err.code, `BRIDGE_MODE=sip cannot work: ${err.message}`, { cause: err });
    throw err;
  }
  throw new PbError(
    'PB_ERR_SIP_PROVISIONING',
    `BRIDGE_MODE=sip is not ready at ${config.LIVEKIT_URL}: ${problems}; run \`phonebridge sip setup\``,
  );
}
