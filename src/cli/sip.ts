import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { SIPDispatchRuleInfo } from 'livekit-server-sdk';
import { roomForCall } from '../livekit/sip-spec.js';
import {
  SipProvisioner,
  describeProblems,
  type SetupAction,
  type SipState,
} from '../livekit/sip-provisioning.js';

const HELP = `Usage: phonebridge sip setup | sip status

  setup    create or update phonebridge's inbound trunk and dispatch rule in LiveKit's SIP
           service so BRIDGE_MODE=sip calls land in their call-<CallSid> room; safe to run
           again (nothing is duplicated; only what differs is changed)
  status   show what is provisioned and what differs from the configuration
           (exit 0 when ready, 1 when not)

Reads LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET (a key with SIP admin permission),
SIP_USERNAME/SIP_PASSWORD (what the TwiML sends) and/or SIP_ALLOWED_ADDRESSES (Twilio's
signalling addresses). See docs/sip.md.`;

const EXAMPLE_CALL = 'call-CA00000000000000000000000000000000';

/** `phonebridge sip setup|status`. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  const sub = positionals[0];
  if (values.help || (sub !== 'setup' && sub !== 'status')) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  requireSettings(config, ['livekit', 'sip-trunk']);
  const provisioner = new SipProvisioner(
    {
      url: config.LIVEKIT_URL!,
      apiKey: config.LIVEKIT_API_KEY!,
      apiSecret: config.LIVEKIT_API_SECRET!,
    },
    config,
  );
  if (sub === 'setup') {
    const { actions, state } = await provisioner.setup();
    console.log(report(config, state, actions));
    return describeProblems(state) ? 1 : 0;
  }
  const state = await provisioner.inspect();
  console.log(report(config, state));
  return describeProblems(state) ? 1 : 0;
}

/** The human-readable account of `state`: never a password, only whether it matches. */
export function report(config: Config, state: SipState, actions?: SetupAction[]): string {
  const lines = [`LiveKit SIP at ${config.LIVEKIT_URL}`];
  if (actions) lines.push(`  done            ${actions.join(', ')}`);
  const t = state.trunk;
  if (!t) lines.push('  inbound trunk   missing');
  else {
    const trunk = t.item;
    lines.push(
      `  inbound trunk   ${trunk.sipTrunkId} '${trunk.name}'  ${verdict(t.differences)}`,
      `                  numbers: ${trunk.numbers.join(', ') || 'any (the To user is call-<CallSid>)'}`,
      `                  auth: ${trunk.authUsername ? `user '${trunk.authUsername}', password set` : 'none'}; source addresses: ${trunk.allowedAddresses.join(', ') || 'any'}`,
      `                  headers → attributes: ${
        Object.entries(trunk.headersToAttributes)
          .map(([h, a]) => `${h} → ${a}`)
          .join(', ') || 'none'
      }`,
    );
  }
  const r = state.rule;
  if (!r) lines.push('  dispatch rule   missing');
  else {
    const rule = r.item;
    const room = roomForCall(rule, EXAMPLE_CALL);
    lines.push(
      `  dispatch rule   ${rule.sipDispatchRuleId} '${rule.name}'  ${verdict(r.differences)}`,
      `                  ${ruleKind(rule)}: To user ${EXAMPLE_CALL} → room ${room ?? '(not predictable)'}; trunks ${rule.trunkIds.join(', ') || 'any'}`,
    );
  }
  for (const x of state.extraTrunks)
    lines.push(`  duplicate       trunk ${x.sipTrunkId} (setup deletes it)`);
  for (const x of state.extraRules)
    lines.push(`  duplicate       rule ${x.sipDispatchRuleId} (setup deletes it)`);
  if (!t)
    for (const x of state.conflictingTrunks)
      lines.push(
        `  conflict        trunk ${x.sipTrunkId} '${x.name}' also takes calls to any number`,
      );
  lines.push(
    `  agent           ${config.AGENT_DISPATCH ? `'${config.AGENT_NAME}', dispatched by the webhook with each call's room` : 'not dispatched (AGENT_DISPATCH=false)'}`,
  );
  const problems = describeProblems(state);
  lines.push(
    problems
      ? `Not ready: ${problems}. Run \`phonebridge sip setup\`.`
      : 'Ready for BRIDGE_MODE=sip.',
  );
  return lines.join('\n');
}

function ruleKind(rule: SIPDispatchRuleInfo): string {
  const r = rule.rule?.rule;
  if (r?.case === 'dispatchRuleCallee')
    return `callee rule, prefix '${r.value.roomPrefix}'${r.value.randomize ? ', randomised' : ''}${r.value.pin ? ', PIN' : ''}`;
  return r?.case ? `${r.case.replace(/^dispatchRule/, '').toLowerCase()} rule` : 'no rule';
}

function verdict(differences: string[]): string {
  return differences.length === 0
    ? 'matches the configuration'
    : `differs in ${differences.join(', ')}`;
}
