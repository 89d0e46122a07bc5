import { SipClient, type SIPDispatchRuleInfo, type SIPInboundTrunkInfo } from 'livekit-server-sdk';
import type { Config } from '../config/schema.js';
import { PbError } from '../errors.js';
import {
  SIP_RULE_NAME,
  SIP_TRUNK_NAME,
  applyRuleSpec,
  applyTrunkSpec,
  isOurRule,
  isOurTrunk,
  ruleDifferences,
  ruleSpec,
  trunkDifferences,
  trunkMetadata,
  trunkSpec,
} from './sip-spec.js';

export interface SipCredentials {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/** One provisioned object as the SIP API lists it, and how it differs from the configuration. */
export interface ProvisionedItem<T> {
  item: T;
  differences: string[];
}

export interface SipState {
  trunk?: ProvisionedItem<SIPInboundTrunkInfo>;
  rule?: ProvisionedItem<SIPDispatchRuleInfo>;
  /** More of ours than one: left over from a concurrent setup; `setup` removes them. */
  extraTrunks: SIPInboundTrunkInfo[];
  extraRules: SIPDispatchRuleInfo[];
  /** Another trunk without numbers: LiveKit allows one such trunk per project, so ours would conflict. */
  conflictingTrunks: SIPInboundTrunkInfo[];
}

export type SetupAction =
  | 'trunk created'
  | 'trunk updated'
  | 'trunk unchanged'
  | 'rule created'
  | 'rule updated'
  | 'rule unchanged'
  | `duplicate ${'trunk' | 'rule'} ${string} deleted`;

function status(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
}

/** Translates a SIP API failure into one line that says what to do about it. */
export function sipApiError(err: unknown, what: string): PbError {
  const message = ((err as Error | undefined)?.message ?? String(err)).replace(
    /^twirp error \w+: /,
    '',
  );
  const s = status(err);
  if (/redis required|sip not connected/i.test(message))
    return new PbError(
      'PB_ERR_SIP_PROVISIONING',
      `${what}: this LiveKit server has no SIP API (${message}); a self-hosted livekit-server needs Redis and livekit-sip (docs/sip.md)`,
      { cause: err },
    );
  if (s === 401 || s === 403)
    return new PbError(
      'PB_ERR_LIVEKIT_AUTH',
      `${what}: LiveKit refused LIVEKIT_API_KEY/LIVEKIT_API_SECRET for the SIP API (${s}); the key needs SIP admin permission`,
      { cause: err },
    );
  if (s === undefined)
    return new PbError('PB_ERR_LIVEKIT_UNREACHABLE', `${what}: ${message}`, {
      cause: err,
      retryable: true,
    });
  return new PbError('PB_ERR_SIP_PROVISIONING', `${what}: LiveKit answered ${s}: ${message}`, {
    cause: err,
  });
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw sipApiError(err, what);
  }
}

type Stamped = { createdAt?: { seconds: bigint; nanos: number } };
const age = (x: Stamped): number =>
  Number(x.createdAt?.seconds ?? 0n) * 1e3 + (x.createdAt?.nanos ?? 0) / 1e6;

/**
 * Picks one of several candidates deterministically: by `keys` in order, then oldest,
 * then smallest ID. The SIP API lists in no particular order (self-hosted, from a Redis
 * hash) and may not stamp creation times, so order alone would choose at random.
 */
function pick<T extends Stamped>(
  items: T[],
  id: (x: T) => string,
  ...keys: ((x: T) => number)[]
): [T | undefined, T[]] {
  const sorted = [...items].sort((a, b) => {
    for (const k of keys) {
      const d = k(a) - k(b);
      if (d !== 0) return d;
    }
    return age(a) - age(b) || id(a).localeCompare(id(b));
  });
  return [sorted[0], sorted.slice(1)];
}

/**
 * phonebridge's trunk and dispatch rule in LiveKit's SIP service: what is there (`inspect`)
 * and making it match the configuration (`setup`). Idempotent: ours are found by their
 * marker, updated in place, never created twice.
 */
export class SipProvisioner {
  readonly client: SipClient;

  constructor(
    creds: SipCredentials,
    private readonly config: Config,
  ) {
    this.client = new SipClient(creds.url.replace(/^ws/, 'http'), creds.apiKey, creds.apiSecret, {
      requestTimeout: 10,
    });
  }

  async inspect(): Promise<SipState> {
    const trunks = await call('listing SIP inbound trunks', () =>
      this.client.listSipInboundTrunk(),
    );
    const rules = await call('listing SIP dispatch rules', () => this.client.listSipDispatchRule());
    const ourRules = rules.filter(isOurRule);
    const spec = this.trunk();
    const trunkDiffs = new Map(
      trunks.filter(isOurTrunk).map((t) => [t, trunkDifferences(t, spec)] as const),
    );
    // Of several trunks of ours, keep the one closest to the configuration, then one a rule
    // of ours points at.
    const [trunk, extraTrunks] = pick(
      [...trunkDiffs.keys()],
      (t) => t.sipTrunkId,
      (t) => trunkDiffs.get(t)!.length,
      (t) => (ourRules.some((r) => r.trunkIds.includes(t.sipTrunkId)) ? 0 : 1),
    );
    const rspec = ruleSpec(trunk?.sipTrunkId ?? '');
    const [rule, extraRules] = pick(
      ourRules,
      (r) => r.sipDispatchRuleId,
      (r) => (trunk && r.trunkIds.includes(trunk.sipTrunkId) ? 0 : 1),
      (r) => ruleDifferences(r, rspec).length,
    );
    const state: SipState = {
      extraTrunks,
      extraRules,
      conflictingTrunks: trunks.filter(
        (t) => !isOurTrunk(t) && t.numbers.length === 0 && t.allowedNumbers.length === 0,
      ),
    };
    if (trunk) state.trunk = { item: trunk, differences: trunkDiffs.get(trunk)! };
    if (rule) state.rule = { item: rule, differences: ruleDifferences(rule, rspec) };
    return state;
  }

  /** Creates or updates our trunk and rule so they match the configuration; returns what it did. */
  async setup(): Promise<{ actions: SetupAction[]; state: SipState }> {
    const before = await this.inspect();
    const actions: SetupAction[] = [];
    const spec = this.trunk();

    let trunkId: string;
    if (!before.trunk) {
      if (before.conflictingTrunks.length > 0) throw conflictError(before.conflictingTrunks);
      const created = await call('creating the SIP inbound trunk', () =>
        this.client.createSipInboundTrunk(spec.name, spec.numbers, {
          metadata: trunkMetadata(spec),
          allowedAddresses: spec.allowedAddresses,
          allowedNumbers: spec.allowedNumbers,
          authUsername: spec.authUsername,
          authPassword: spec.authPassword,
          headersToAttributes: spec.headersToAttributes,
        }),
      );
      trunkId = created.sipTrunkId;
      actions.push('trunk created');
    } else {
      trunkId = before.trunk.item.sipTrunkId;
      if (before.trunk.differences.length > 0) {
        const next = applyTrunkSpec(before.trunk.item, spec);
        await call('updating the SIP inbound trunk', () =>
          this.client.updateSipInboundTrunk(trunkId, next),
        );
        actions.push('trunk updated');
      } else actions.push('trunk unchanged');
    }

    const rspec = ruleSpec(trunkId);
    // A duplicate rule would be a conflict for LiveKit (same trunk, numbers and PIN): delete
    // extras before creating or updating ours.
    for (const extra of before.extraRules) {
      await call('deleting a duplicate SIP dispatch rule', () =>
        this.client.deleteSipDispatchRule(extra.sipDispatchRuleId),
      );
      actions.push(`duplicate rule ${extra.sipDispatchRuleId} deleted`);
    }
    if (!before.rule) {
      await call('creating the SIP dispatch rule', () =>
        this.client.createSipDispatchRule(
          { type: 'callee', roomPrefix: rspec.roomPrefix, randomize: rspec.randomize },
          { name: rspec.name, trunkIds: rspec.trunkIds, hidePhoneNumber: rspec.hidePhoneNumber },
        ),
      );
      actions.push('rule created');
    } else {
      const differences = ruleDifferences(before.rule.item, rspec);
      if (differences.length > 0) {
        const next = applyRuleSpec(before.rule.item, rspec);
        await call('updating the SIP dispatch rule', () =>
          this.client.updateSipDispatchRule(before.rule!.item.sipDispatchRuleId, next),
        );
        actions.push('rule updated');
      } else actions.push('rule unchanged');
    }
    for (const extra of before.extraTrunks) {
      await call('deleting a duplicate SIP inbound trunk', () =>
        this.client.deleteSipTrunk(extra.sipTrunkId),
      );
      actions.push(`duplicate trunk ${extra.sipTrunkId} deleted`);
    }
    return { actions, state: await this.inspect() };
  }

  private trunk() {
    return trunkSpec(this.config);
  }
}

function conflictError(trunks: SIPInboundTrunkInfo[]): PbError {
  const names = trunks.map((t) => `${t.sipTrunkId}${t.name ? ` (${t.name})` : ''}`).join(', ');
  return new PbError(
    'PB_ERR_SIP_PROVISIONING',
    `cannot create the '${SIP_TRUNK_NAME}' trunk: inbound trunk ${names} also accepts calls to any number, and LiveKit allows one such trunk per project; delete it or give it numbers`,
  );
}

/** What is missing or different, in one line; undefined when SIP mode is ready. */
export function describeProblems(state: SipState): string | undefined {
  const problems: string[] = [];
  if (!state.trunk) problems.push(`no inbound trunk '${SIP_TRUNK_NAME}'`);
  else if (state.trunk.differences.length > 0)
    problems.push(
      `inbound trunk ${state.trunk.item.sipTrunkId} differs in ${state.trunk.differences.join(', ')}`,
    );
  if (!state.rule) problems.push(`no dispatch rule '${SIP_RULE_NAME}'`);
  else if (state.rule.differences.length > 0)
    problems.push(
      `dispatch rule ${state.rule.item.sipDispatchRuleId} differs in ${state.rule.differences.join(', ')}`,
    );
  if (state.extraTrunks.length + state.extraRules.length > 0)
    problems.push(
      `${state.extraTrunks.length + state.extraRules.length} duplicate(s) of ours to remove`,
    );
  return problems.length > 0 ? problems.join('; ') : undefined;
}
