import { describe, expect, it } from 'vitest';
import { MemoryCallRecords, outcomeOf, type CallRecord } from './call-records.js';

const SID = 'CA' + 'a'.repeat(32);
const base = {
  callSid: SID,
  room: 'call-out-0123456789abcdef',
  from: '+15555550100',
  to: '+15555550123',
  machine: 'voicemail' as const,
  createdAt: '2026-01-01T00:00:00.000Z',
};
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('MemoryCallRecords', () => {
  it("orders the history by Twilio's SequenceNumber, whatever order the callbacks came in", async () => {
    const store = new MemoryCallRecords(60);
    await store.create(base, { status: 'queued', at: at(0) });
    await store.addStatus(SID, { status: 'completed', at: at(3), sequenceNumber: 3 });
    await store.addStatus(SID, { status: 'initiated', at: at(1), sequenceNumber: 0 });
    await store.addStatus(SID, { status: 'in-progress', at: at(2), sequenceNumber: 2 });
    await store.addStatus(SID, { status: 'ringing', at: at(4), sequenceNumber: 1 });
    await store.update(SID, { answeredBy: 'human', durationSeconds: 12 });
    const r = (await store.get(SID))!;
    expect(r.history.map((h) => h.status)).toEqual([
      'queued',
      'initiated',
      'ringing',
      'in-progress',
      'completed',
    ]);
    expect(r).toMatchObject({ status: 'completed', outcome: 'human', durationSeconds: 12 });
  });

  it('ignores updates for calls it does not hold, and forgets records after the TTL', async () => {
    let now = 0;
    const store = new MemoryCallRecords(10, () => now);
    await store.addStatus(SID, { status: 'ringing', at: at(0) });
    await store.update(SID, { answeredBy: 'human' });
    expect(await store.get(SID)).toBeUndefined();
    await store.create(base, { status: 'queued', at: at(0) });
    now = 9_999;
    expect(await store.get(SID)).toBeDefined();
    now = 10_000;
    expect(await store.get(SID)).toBeUndefined();
  });
});

describe('outcomeOf', () => {
  const rec = (
    final: string | undefined,
    answeredBy?: string,
    machine: 'hangup' | 'voicemail' = 'voicemail',
  ) =>
    outcomeOf({
      ...base,
      machine,
      direction: 'outbound',
      status: final ?? 'ringing',
      history: final ? [{ status: final, at: at(1) }] : [{ status: 'ringing', at: at(1) }],
      ...(answeredBy && { answeredBy }),
    } satisfies Omit<CallRecord, 'outcome'>);

  it('names how the call turned out once Twilio reported a final status', () => {
    expect(rec(undefined)).toBeNull();
    expect(rec('busy')).toBe('busy');
    expect(rec('no-answer')).toBe('no-answer');
    expect(rec('canceled')).toBe('canceled');
    expect(rec('completed')).toBe('answered');
    expect(rec('completed', 'human')).toBe('human');
    expect(rec('completed', 'unknown')).toBe('unknown');
    expect(rec('completed', 'fax')).toBe('fax');
    expect(rec('completed', 'machine_end_beep')).toBe('voicemail');
    expect(rec('completed', 'machine_end_silence', 'hangup')).toBe('machine');
    expect(rec('completed', 'machine_start')).toBe('machine');
  });
});
