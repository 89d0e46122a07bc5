import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { SIPDispatchRule, SIPDispatchRuleCallee } from 'livekit-server-sdk';
import { isPbError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { SipProvisioner, describeProblems } from '../../src/livekit/sip-provisioning.js';
import { roomForCall } from '../../src/livekit/sip-spec.js';
import { startServer } from '../../src/server/start.js';
import { livekit } from '../helpers/livekit.js';
import { testConfig } from '../helpers/phonebridge.js';
import { SIP_ENV, describeWithRedis, sipClient, useSipLiveKit } from '../helpers/sip.js';

const BIN = fileURLToPath(new URL('../../bin/phonebridge.js', import.meta.url));

function provisioner(
  lk: { url: string; apiKey: string; apiSecret: string },
  env: Record<string, string> = {},
): SipProvisioner {
  return new SipProvisioner(lk, testConfig(lk, { ...SIP_ENV, ...env }));
}

/** Every trunk and rule, as the SIP API lists them. */
async function listing(lk: Parameters<typeof sipClient>[0]) {
  const sip = sipClient(lk);
  const [trunks, rules] = await Promise.all([sip.listSipInboundTrunk(), sip.listSipDispatchRule()]);
  return { trunks, rules };
}

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describeWithRedis('phonebridge sip setup against a livekit-server with Redis', () => {
  const lk = useSipLiveKit();

  it('on a fresh stack creates exactly one trunk and one callee rule that names the room after the To user', async () => {
    const { actions } = await provisioner(lk()).setup();
    expect(actions).toEqual(['trunk created', 'rule created']);
    const { trunks, rules } = await listing(lk());
    expect(trunks).toHaveLength(1);
    expect(rules).toHaveLength(1);
    const [trunk, rule] = [trunks[0]!, rules[0]!];
    expect(trunk).toMatchObject({
      name: 'phonebridge',
      numbers: [],
      allowedNumbers: [],
      allowedAddresses: ['54.172.60.0/30'],
      authUsername: SIP_ENV.SIP_USERNAME,
      authPassword: SIP_ENV.SIP_PASSWORD,
      headersToAttributes: {
        'X-Phonebridge-CallSid': 'phonebridge.callSid',
        'X-Phonebridge-From': 'phonebridge.from',
        'X-Phonebridge-To': 'phonebridge.to',
      },
    });
    expect(rule.trunkIds).toEqual([trunk.sipTrunkId]);
    expect(rule.rule?.rule.case).toBe('dispatchRuleCallee');
    expect(roomForCall(rule, 'call-CA0123')).toBe('call-CA0123');
    expect(rule.hidePhoneNumber).toBe(false);
  });

  it('a second run changes nothing', async () => {
    const before = await listing(lk());
    const { actions } = await provisioner(lk()).setup();
    expect(actions).toEqual(['trunk unchanged', 'rule unchanged']);
    const after = await listing(lk());
    expect(after.trunks.map((t) => t.toJson())).toEqual(before.trunks.map((t) => t.toJson()));
    expect(after.rules.map((r) => r.toJson())).toEqual(before.rules.map((r) => r.toJson()));
  });

  it('a changed configuration updates the trunk in place, and status names what differed', async () => {
    const before = await listing(lk());
    const changed = { SIP_PASSWORD: 'rotated-password-42', SIP_ALLOWED_ADDRESSES: '' };
    const stale = await provisioner(lk(), changed).inspect();
    expect(stale.trunk?.differences).toEqual(['allowedAddresses', 'authPassword']);
    const problems = describeProblems(stale) ?? '';
    expect(problems).toMatch(/differs in allowedAddresses, authPassword/);
    expect(problems).not.toContain('rotated-password-42');
    expect(problems).not.toContain(SIP_ENV.SIP_PASSWORD);

    const { actions } = await provisioner(lk(), changed).setup();
    expect(actions).toEqual(['trunk updated', 'rule unchanged']);
    const after = await listing(lk());
    expect(after.trunks).toHaveLength(1);
    expect(after.rules).toHaveLength(1);
    expect(after.trunks[0]!.sipTrunkId).toBe(before.trunks[0]!.sipTrunkId);
    expect(after.trunks[0]!.authPassword).toBe('rotated-password-42');
    expect(after.trunks[0]!.allowedAddresses).toEqual([]);
    expect(describeProblems(await provisioner(lk(), changed).inspect())).toBeUndefined();
    // And back, for the tests below.
    expect((await provisioner(lk()).setup()).actions).toEqual(['trunk updated', 'rule unchanged']);
  });

  it('puts back a rule someone changed, and removes duplicates of ours', async () => {
    const sip = sipClient(lk());
    const { trunks, rules } = await listing(lk());
    const ours = rules[0]!;
    await sip.updateSipDispatchRuleFields(ours.sipDispatchRuleId, {
      rule: new SIPDispatchRule({
        rule: {
          case: 'dispatchRuleCallee',
          value: new SIPDispatchRuleCallee({ roomPrefix: 'call', randomize: true }),
        },
      }),
    });
    // A second trunk with our marker (numbers, so LiveKit accepts it next to ours) and a
    // second rule of ours on it: what two concurrent setups could leave behind.
    const extraTrunk = await sip.createSipInboundTrunk('phonebridge', ['+15550000001'], {
      metadata: trunks[0]!.metadata,
      authUsername: 'x',
      authPassword: 'y-long-enough',
    });
    const extraRule = await sip.createSipDispatchRule(
      { type: 'callee', roomPrefix: '' },
      { name: 'phonebridge', trunkIds: [extraTrunk.sipTrunkId] },
    );
    const state = await provisioner(lk()).inspect();
    expect(state.rule?.differences).toEqual(['rule']);
    expect(state.extraTrunks.map((t) => t.sipTrunkId)).toEqual([extraTrunk.sipTrunkId]);
    expect(state.extraRules.map((r) => r.sipDispatchRuleId)).toEqual([extraRule.sipDispatchRuleId]);

    const { actions } = await provisioner(lk()).setup();
    expect(actions).toEqual([
      'trunk unchanged',
      `duplicate rule ${extraRule.sipDispatchRuleId} deleted`,
      'rule updated',
      `duplicate trunk ${extraTrunk.sipTrunkId} deleted`,
    ]);
    const after = await listing(lk());
    expect(after.trunks.map((t) => t.sipTrunkId)).toEqual([trunks[0]!.sipTrunkId]);
    expect(after.rules.map((r) => r.sipDispatchRuleId)).toEqual([ours.sipDispatchRuleId]);
    expect(roomForCall(after.rules[0]!, 'call-CA0123')).toBe('call-CA0123');
  });

  it('`sip status` and `sip setup` on the command line: exit codes, and no password in the output', async () => {
    const env = {
      LIVEKIT_URL: lk().url,
      LIVEKIT_API_KEY: lk().apiKey,
      LIVEKIT_API_SECRET: lk().apiSecret,
      ...SIP_ENV,
    };
    const ready = await cli(['sip', 'status'], env);
    expect(ready.out).toMatch(/Ready for BRIDGE_MODE=sip/);
    expect(ready.code).toBe(0);
    const stale = await cli(['sip', 'status'], { ...env, SIP_USERNAME: 'someone-else' });
    expect(stale.out).toMatch(/differs in authUsername/);
    expect(stale.code).toBe(1);
    const setup = await cli(['sip', 'setup'], env);
    expect(setup.out).toMatch(/done +trunk unchanged, rule unchanged/);
    expect(setup.code).toBe(0);
    for (const r of [ready, stale, setup]) expect(r.out).not.toContain(SIP_ENV.SIP_PASSWORD);
  });

  it('serve in SIP mode starts only when the trunk and rule are there, and says in one line what is missing', async () => {
    const log = createLogger({ level: 'silent' });
    const sipMode = { ...SIP_ENV, BRIDGE_MODE: 'sip' };
    const server = await startServer(testConfig(lk(), sipMode), log);
    await server.shutdown();

    const sip = sipClient(lk());
    const { rules } = await listing(lk());
    await sip.deleteSipDispatchRule(rules[0]!.sipDispatchRuleId);
    const err = await startServer(testConfig(lk(), sipMode), log).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPbError(err, 'PB_ERR_SIP_PROVISIONING')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toMatch(
      /BRIDGE_MODE=sip is not ready .*: no dispatch rule 'phonebridge'; run `phonebridge sip setup`/,
    );
    expect(msg.split('\n')).toHaveLength(1);
    expect((await provisioner(lk()).setup()).actions).toEqual(['trunk unchanged', 'rule created']);
  });

  it('serve in SIP mode against a livekit-server without Redis says it has no SIP API', async () => {
    const config = testConfig(livekit(), { ...SIP_ENV, BRIDGE_MODE: 'sip' });
    const err = await startServer(config, createLogger({ level: 'silent' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPbError(err, 'PB_ERR_SIP_PROVISIONING')).toBe(true);
    expect((err as Error).message).toMatch(
      /^BRIDGE_MODE=sip cannot work: listing SIP inbound trunks: this LiveKit server has no SIP API \(sip not connected \(redis required\)\); a self-hosted livekit-server needs Redis and livekit-sip/,
    );
  });

  it('refuses to create its trunk beside a foreign catch-all trunk, naming it, and creates nothing', async () => {
    const sip = sipClient(lk());
    const before = await listing(lk());
    for (const r of before.rules) await sip.deleteSipDispatchRule(r.sipDispatchRuleId);
    for (const t of before.trunks) await sip.deleteSipTrunk(t.sipTrunkId);
    const foreign = await sip.createSipInboundTrunk('pbx', [], {
      authUsername: 'pbx',
      authPassword: 'pbx-password-123',
    });
    const err = await provisioner(lk())
      .setup()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isPbError(err, 'PB_ERR_SIP_PROVISIONING')).toBe(true);
    expect((err as Error).message).toContain(
      `inbound trunk ${foreign.sipTrunkId} (pbx) also accepts calls to any number`,
    );
    const after = await listing(lk());
    expect(after.trunks.map((t) => t.sipTrunkId)).toEqual([foreign.sipTrunkId]);
    expect(after.rules).toEqual([]);
  });
});
