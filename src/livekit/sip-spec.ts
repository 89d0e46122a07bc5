/**
 * What phonebridge wants LiveKit's SIP service to hold, and how what it holds differs.
 * Pure: no network. `sip-provisioning.ts` applies it through the SIP API.
 *
 * Why these shapes (checked in livekit/protocol `sip/sip.go` and livekit-server
 * `pkg/service/ioservice_sip.go`):
 * - The trunk is matched on the INVITE's To user, which for our `<Dial><Sip>` is
 *   `call-<CallSid>`, never a phone number. A trunk that lists numbers would not match, the
 *   INVITE would get no trunk (so no auth challenge) and our trunk-specific rule would not
 *   apply: the trunk has no numbers and is restricted by credentials and/or addresses.
 * - A callee rule names the room after the To user, `prefix + "_" + user` when a prefix
 *   is set: the empty prefix without randomisation gives exactly `call-<CallSid>`.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import {
  SIPDispatchRule,
  SIPDispatchRuleCallee,
  type SIPDispatchRuleInfo,
  type SIPInboundTrunkInfo,
} from 'livekit-server-sdk';
import type { Config } from '../config/schema.js';

export const SIP_TRUNK_NAME = 'phonebridge';
export const SIP_RULE_NAME = 'phonebridge';
const MANAGED_BY = 'phonebridge';

/**
 * The X- headers our TwiML adds to the INVITE and the participant attributes the trunk maps
 * them to. Twilio adds its own `X-Twilio-CallSid`, which livekit-sip maps to
 * `sip.twilio.callSid`; we send the webhook's CallSid ourselves because that is the call
 * our room, slot and status callback belong to.
 */
export const SIP_CALL_HEADERS = {
  callSid: { header: 'X-Phonebridge-CallSid', attribute: 'phonebridge.callSid' },
  from: { header: 'X-Phonebridge-From', attribute: 'phonebridge.from' },
  to: { header: 'X-Phonebridge-To', attribute: 'phonebridge.to' },
} as const;

export function sipHeadersToAttributes(): Record<string, string> {
  return Object.fromEntries(Object.values(SIP_CALL_HEADERS).map((h) => [h.header, h.attribute]));
}

/** The trunk fields phonebridge owns; any other field an operator set is left alone. */
export interface TrunkSpec {
  name: string;
  numbers: string[];
  allowedAddresses: string[];
  allowedNumbers: string[];
  authUsername: string;
  authPassword: string;
  headersToAttributes: Record<string, string>;
}

/** The dispatch rule fields phonebridge owns. */
export interface RuleSpec {
  name: string;
  trunkIds: string[];
  roomPrefix: string;
  randomize: boolean;
  pin: string;
  hidePhoneNumber: boolean;
  numbers: string[];
  inboundNumbers: string[];
}

export function trunkSpec(config: Config): TrunkSpec {
  return {
    name: SIP_TRUNK_NAME,
    numbers: [],
    allowedAddresses: [...config.SIP_ALLOWED_ADDRESSES],
    allowedNumbers: [],
    authUsername: config.SIP_USERNAME ?? '',
    authPassword: config.SIP_PASSWORD ?? '',
    headersToAttributes: sipHeadersToAttributes(),
  };
}

export function ruleSpec(trunkId: string): RuleSpec {
  return {
    name: SIP_RULE_NAME,
    trunkIds: [trunkId],
    roomPrefix: '',
    randomize: false,
    pin: '',
    hidePhoneNumber: false,
    numbers: [],
    inboundNumbers: [],
  };
}

interface TrunkMetadata {
  managedBy: string;
  /** scrypt of the auth password, for SIP APIs that do not list passwords back. */
  password?: string;
}

/** Ours = the marker we write in the trunk's metadata (trunk metadata never reaches a participant). */
export function isOurTrunk(trunk: SIPInboundTrunkInfo): boolean {
  return readTrunkMetadata(trunk.metadata)?.managedBy === MANAGED_BY;
}

/** Ours = the rule's name (a rule's metadata is copied to every SIP participant it creates). */
export function isOurRule(rule: SIPDispatchRuleInfo): boolean {
  return rule.name === SIP_RULE_NAME;
}

function readTrunkMetadata(raw: string): TrunkMetadata | undefined {
  try {
    const m = JSON.parse(raw) as unknown;
    return m && typeof m === 'object' && typeof (m as TrunkMetadata).managedBy === 'string'
      ? (m as TrunkMetadata)
      : undefined;
  } catch {
    return undefined;
  }
}

function passwordHash(password: string, salt = randomBytes(16)): string {
  return `scrypt:${salt.toString('base64url')}:${scryptSync(password, salt, 32).toString('base64url')}`;
}

function passwordMatchesHash(password: string, stored: string | undefined): boolean {
  const [kind, salt, hash] = (stored ?? '').split(':');
  if (kind !== 'scrypt' || !salt || !hash) return password === '' && stored === undefined;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length || 32);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The metadata to store with a trunk built from `spec`. */
export function trunkMetadata(spec: TrunkSpec): string {
  const m: TrunkMetadata = { managedBy: MANAGED_BY };
  if (spec.authPassword) m.password = passwordHash(spec.authPassword);
  return JSON.stringify(m);
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Names of the owned trunk fields that differ from `spec` (never their values: one is a
 * password). A listed password is compared directly; when the SIP API does not list it
 * back, the scrypt hash in our metadata stands in for it.
 */
export function trunkDifferences(trunk: SIPInboundTrunkInfo, spec: TrunkSpec): string[] {
  const diffs: string[] = [];
  if (trunk.name !== spec.name) diffs.push('name');
  if (!sameSet(trunk.numbers, spec.numbers)) diffs.push('numbers');
  if (!sameSet(trunk.allowedAddresses, spec.allowedAddresses)) diffs.push('allowedAddresses');
  if (!sameSet(trunk.allowedNumbers, spec.allowedNumbers)) diffs.push('allowedNumbers');
  if (trunk.authUsername !== spec.authUsername) diffs.push('authUsername');
  const listed = trunk.authPassword;
  const stored = readTrunkMetadata(trunk.metadata)?.password;
  const passwordSame = listed
    ? listed === spec.authPassword && passwordMatchesHash(spec.authPassword, stored)
    : passwordMatchesHash(spec.authPassword, stored);
  if (!passwordSame) diffs.push('authPassword');
  const mapped = trunk.headersToAttributes ?? {};
  for (const [header, attribute] of Object.entries(spec.headersToAttributes)) {
    if (mapped[header] !== attribute) {
      diffs.push('headersToAttributes');
      break;
    }
  }
  return diffs;
}

/** `trunk` with every owned field set from `spec`; what an operator added elsewhere stays. */
export function applyTrunkSpec(trunk: SIPInboundTrunkInfo, spec: TrunkSpec): SIPInboundTrunkInfo {
  const next = trunk.clone();
  next.name = spec.name;
  next.metadata = trunkMetadata(spec);
  next.numbers = [...spec.numbers];
  next.allowedAddresses = [...spec.allowedAddresses];
  next.allowedNumbers = [...spec.allowedNumbers];
  next.authUsername = spec.authUsername;
  next.authPassword = spec.authPassword;
  next.headersToAttributes = { ...trunk.headersToAttributes, ...spec.headersToAttributes };
  return next;
}

export function ruleDifferences(rule: SIPDispatchRuleInfo, spec: RuleSpec): string[] {
  const diffs: string[] = [];
  if (rule.name !== spec.name) diffs.push('name');
  if (!sameSet(rule.trunkIds, spec.trunkIds)) diffs.push('trunkIds');
  const r = rule.rule?.rule;
  if (
    r?.case !== 'dispatchRuleCallee' ||
    r.value.roomPrefix !== spec.roomPrefix ||
    r.value.randomize !== spec.randomize ||
    r.value.pin !== spec.pin
  )
    diffs.push('rule');
  if (rule.hidePhoneNumber !== spec.hidePhoneNumber) diffs.push('hidePhoneNumber');
  if (!sameSet(rule.numbers, spec.numbers)) diffs.push('numbers');
  if (!sameSet(rule.inboundNumbers, spec.inboundNumbers)) diffs.push('inboundNumbers');
  return diffs;
}

export function applyRuleSpec(rule: SIPDispatchRuleInfo, spec: RuleSpec): SIPDispatchRuleInfo {
  const next = rule.clone();
  next.name = spec.name;
  next.trunkIds = [...spec.trunkIds];
  next.rule = new SIPDispatchRule({
    rule: {
      case: 'dispatchRuleCallee',
      value: new SIPDispatchRuleCallee({
        roomPrefix: spec.roomPrefix,
        randomize: spec.randomize,
        pin: spec.pin,
      }),
    },
  });
  next.hidePhoneNumber = spec.hidePhoneNumber;
  next.numbers = [...spec.numbers];
  next.inboundNumbers = [...spec.inboundNumbers];
  return next;
}

/**
 * The room LiveKit puts a call to `toUser` in under `rule`, following livekit/protocol's
 * EvaluateDispatchRule; undefined when the name is not predictable (randomised, per caller).
 */
export function roomForCall(rule: SIPDispatchRuleInfo, toUser: string): string | undefined {
  const r = rule.rule?.rule;
  switch (r?.case) {
    case 'dispatchRuleDirect':
      return r.value.roomName;
    case 'dispatchRuleCallee':
      if (r.value.randomize) return undefined;
      return r.value.roomPrefix ? `${r.value.roomPrefix}_${toUser}` : toUser;
    default:
      return undefined;
  }
}

/** Whether `trunk` matches an INVITE from `fromUser` to `toUser` (numbers only; addresses are the network's). */
export function trunkMatches(
  trunk: SIPInboundTrunkInfo,
  call: { toUser: string; fromUser: string },
): boolean {
  const numbersOk = trunk.numbers.length === 0 || trunk.numbers.includes(call.toUser);
  const callerOk =
    trunk.allowedNumbers.length === 0 || trunk.allowedNumbers.includes(call.fromUser);
  return numbersOk && callerOk;
}
