import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function runChild(kind: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/ffi-guard-child.ts', kind],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rtc-node finaliser guard', () => {
  it('survives the finaliser error and keeps serving', () => {
    const r = runChild('finaliser');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Survived an rtc-node handle finaliser error');
    expect(r.stdout).toContain('still alive');
  });

  it('still ends the process on any other uncaught exception', () => {
    const r = runChild('other');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Uncaught exception; exiting');
    expect(r.stdout).not.toContain('still alive');
  });
});
