import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakePhonebridge, type FakePhonebridge } from './testing/fake-phonebridge.js';
import { formatLoadReport, runLoad, type LoadProgress } from './load.js';
import { metricValue } from './metrics.js';
import { percentile } from './stats.js';

const token = 'test-auth-token-0123456789abcdef';
let fake: FakePhonebridge;
beforeAll(async () => {
  fake = await startFakePhonebridge(token, 'https://pb.example.test');
});
afterAll(async () => {
  await fake.close();
});

describe('runLoad', () => {
  it('runs ramped concurrent calls against a loopback server and reports the round trip', async () => {
    const progress: LoadProgress[] = [];
    const r = await runLoad(
      {
        url: fake.url,
        publicUrl: 'https://pb.example.test',
        authToken: token,
        calls: 4,
        rampPerSec: 20,
        durationSeconds: 2,
        listenMs: 300,
        onProgress: (p) => progress.push(p),
      },
      new AbortController().signal,
    );
    expect(r.calls).toEqual({ total: 4, ok: 4, failed: 0, rejected: 0 });
    expect(r.latency.kind).toBe('round-trip');
    expect(r.latency.samples).toBeGreaterThanOrEqual(4);
    expect(r.latency.p95Ms).toBeLessThan(150);
    expect(r.server?.peakConcurrentCalls).toBe(4);
    expect(r.server?.rssPeakBytes).toBeGreaterThan(0);
    expect(r.underruns.callMinutes).toBeGreaterThan(0.1);
    expect(progress.at(-1)).toMatchObject({ total: 4, done: 4, active: 0, failed: 0 });
    expect(formatLoadReport(r)).toContain('round-trip latency');
  });

  it('counts rejected and failed calls apart', async () => {
    fake.reset('reject');
    const r = await runLoad(
      {
        url: fake.url,
        publicUrl: 'https://pb.example.test',
        authToken: token,
        calls: 2,
        rampPerSec: 50,
        durationSeconds: 1,
        metrics: false,
      },
      new AbortController().signal,
    );
    expect(r.calls).toEqual({ total: 2, ok: 0, failed: 0, rejected: 2 });
    fake.reset('close-4005');
    const f = await runLoad(
      {
        url: fake.url,
        publicUrl: 'https://pb.example.test',
        authToken: token,
        calls: 2,
        rampPerSec: 50,
        durationSeconds: 1,
        metrics: false,
      },
      new AbortController().signal,
    );
    expect(f.calls.failed).toBe(2);
    expect(f.failures[0]?.errors.join()).toContain('4005');
    fake.reset('stream');
  });
});

describe('load helpers', () => {
  it('reads prom-client metrics and nearest-rank percentiles', () => {
    const text =
      '# HELP x\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes{a="b"} 1.5e8\n';
    expect(metricValue(text, 'process_cpu_seconds_total')).toBe(12.5);
    expect(metricValue(text, 'process_resident_memory_bytes')).toBe(1.5e8);
    expect(metricValue(text, 'nope')).toBeUndefined();
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([], 50)).toBeNull();
  });
});
