import { describe, expect, it } from 'vitest';
import {
  SIPDispatchRule,
  SIPDispatchRuleCallee,
  SIPDispatchRuleDirect,
  SIPDispatchRuleIndividual,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
} from 'livekit-server-sdk';
import { loadConfig } from '../config/load.js';
import {
  SIP_CALL_HEADERS,
  applyRuleSpec,
  applyTrunkSpec,
  isOurRule,
  isOurTrunk,
  roomForCall,
  ruleDifferences,
  ruleSpec,
  trunkDifferences,
  trunkMatches,
  trunkSpec,
} from './sip-spec.js';

const PASSWORD = 'correct-horse-battery';
const config = loadConfig({
  SIP_USERNAME: 'twilio',
  SIP_PASSWORD: PASSWORD,
  SIP_ALLOWED_ADDRESSES: '54.172.60.0/30, 54.244.51.0/30',
});

function provisioned(): SIPInboundTrunkInfo {
  return applyTrunkSpec(new SIPInboundTrunkInfo({ sipTrunkId: 'ST_1' }), trunkSpec(config));
}

function rule(r: SIPDispatchRule['rule']): SIPDispatchRuleInfo {
  return new SIPDispatchRuleInfo({ rule: new SIPDispatchRule({ rule: r }) });
}

describe('the inbound trunk phonebridge wants', () => {
  it('takes any called user (ours are call-<CallSid>), with the credentials and addresses configured', () => {
    const spec = trunkSpec(config);
    expect(spec.numbers).toEqual([]);
    expect(spec.allowedNumbers).toEqual([]);
    expect(spec.authUsername).toBe('twilio');
    expect(spec.allowedAddresses).toEqual(['54.172.60.0/30', '54.244.51.0/30']);
    expect(spec.headersToAttributes).toEqual({
      'X-Phonebridge-CallSid': 'phonebridge.callSid',
      'X-Phonebridge-From': 'phonebridge.from',
      'X-Phonebridge-To': 'phonebridge.to',
    });
    expect(trunkMatches(provisioned(), { toUser: 'call-CA1', fromUser: '+15551234567' })).toBe(
      true,
    );
  });

  it('would not match our INVITEs if it listed phone numbers', () => {
    const withNumbers = new SIPInboundTrunkInfo({ numbers: ['+15557654321'] });
    expect(trunkMatches(withNumbers, { toUser: 'call-CA1', fromUser: '+15551234567' })).toBe(false);
  });

  it('is recognised by its metadata marker, which holds no plaintext password', () => {
    const t = provisioned();
    expect(isOurTrunk(t)).toBe(true);
    expect(t.metadata).not.toContain(PASSWORD);
    expect(isOurTrunk(new SIPInboundTrunkInfo({ name: 'phonebridge', metadata: '' }))).toBe(false);
    expect(isOurTrunk(new SIPInboundTrunkInfo({ metadata: 'not json' }))).toBe(false);
  });

  it('reports no difference once applied', () => {
    expect(trunkDifferences(provisioned(), trunkSpec(config))).toEqual([]);
  });

  it('names each owned field that differs, never its value', () => {
    const cases: [string, (t: SIPInboundTrunkInfo) => void][] = [
      ['numbers', (t) => (t.numbers = ['+15557654321'])],
      ['allowedAddresses', (t) => (t.allowedAddresses = ['198.51.100.0/24'])],
      ['allowedNumbers', (t) => (t.allowedNumbers = ['+15551234567'])],
      ['authUsername', (t) => (t.authUsername = 'someone')],
      ['authPassword', (t) => (t.authPassword = 'another-password-1')],
      ['headersToAttributes', (t) => (t.headersToAttributes = {})],
      ['name', (t) => (t.name = 'renamed')],
    ];
    for (const [field, change] of cases) {
      const t = provisioned();
      change(t);
      const diffs = trunkDifferences(t, trunkSpec(config));
      expect(diffs, field).toEqual([field]);
      expect(diffs.join(' ')).not.toContain(PASSWORD);
    }
  });

  it('uses the stored scrypt hash when the SIP API does not list the password back', () => {
    const hidden = provisioned();
    hidden.authPassword = '';
    expect(trunkDifferences(hidden, trunkSpec(config))).toEqual([]);
    const rotated = loadConfig({ SIP_USERNAME: 'twilio', SIP_PASSWORD: 'a-brand-new-password' });
    expect(trunkDifferences(hidden, trunkSpec(rotated))).toContain('authPassword');
  });

  it('compares address lists as sets', () => {
    const t = provisioned();
    t.allowedAddresses = [...t.allowedAddresses].reverse();
    expect(trunkDifferences(t, trunkSpec(config))).toEqual([]);
  });

  it('keeps what an operator set outside the owned fields', () => {
    const t = provisioned();
    t.krispEnabled = true;
    t.headersToAttributes = { ...t.headersToAttributes, 'X-Ticket': 'ticket' };
    expect(trunkDifferences(t, trunkSpec(config))).toEqual([]);
    const rotated = loadConfig({ SIP_USERNAME: 'ops', SIP_PASSWORD: 'a-brand-new-password' });
    const next = applyTrunkSpec(t, trunkSpec(rotated));
    expect(next.krispEnabled).toBe(true);
    expect(next.headersToAttributes['X-Ticket']).toBe('ticket');
    expect(next.headersToAttributes[SIP_CALL_HEADERS.callSid.header]).toBe('phonebridge.callSid');
    expect(next.authUsername).toBe('ops');
    expect(next.sipTrunkId).toBe('ST_1');
  });
});

describe('the dispatch rule phonebridge wants', () => {
  const spec = ruleSpec('ST_1');

  it('is a callee rule with no prefix and no randomisation, so the To user is the room', () => {
    const r = applyRuleSpec(new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1' }), spec);
    expect(isOurRule(r)).toBe(true);
    expect(ruleDifferences(r, spec)).toEqual([]);
    expect(roomForCall(r, 'call-CA1')).toBe('call-CA1');
    expect(r.trunkIds).toEqual(['ST_1']);
    expect(r.hidePhoneNumber).toBe(false);
  });

  it('names what differs', () => {
    const r = applyRuleSpec(new SIPDispatchRuleInfo(), spec);
    r.trunkIds = ['ST_2'];
    r.hidePhoneNumber = true;
    expect(ruleDifferences(r, spec)).toEqual(['trunkIds', 'hidePhoneNumber']);
    const prefixed = rule({
      case: 'dispatchRuleCallee',
      value: new SIPDispatchRuleCallee({ roomPrefix: 'call-' }),
    });
    expect(ruleDifferences(prefixed, spec)).toContain('rule');
  });
});

describe("LiveKit's room naming, as livekit/protocol's EvaluateDispatchRule does it", () => {
  it('joins a callee prefix with an underscore, and a randomised name is unpredictable', () => {
    const callee = (roomPrefix: string, randomize = false) =>
      rule({
        case: 'dispatchRuleCallee',
        value: new SIPDispatchRuleCallee({ roomPrefix, randomize }),
      });
    expect(roomForCall(callee(''), 'call-CA1')).toBe('call-CA1');
    expect(roomForCall(callee('call'), 'CA1')).toBe('call_CA1');
    expect(roomForCall(callee('', true), 'call-CA1')).toBeUndefined();
  });

  it('puts every call of a direct rule in one room; an individual rule names rooms per caller', () => {
    const direct = rule({
      case: 'dispatchRuleDirect',
      value: new SIPDispatchRuleDirect({ roomName: 'lobby' }),
    });
    expect(roomForCall(direct, 'call-CA1')).toBe('lobby');
    const individual = rule({
      case: 'dispatchRuleIndividual',
      value: new SIPDispatchRuleIndividual({ roomPrefix: 'call' }),
    });
    expect(roomForCall(individual, 'call-CA1')).toBeUndefined();
  });
});
