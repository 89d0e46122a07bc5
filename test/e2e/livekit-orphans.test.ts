import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/livekit.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startHolder(): Promise<{ holder: ReturnType<typeof spawn>; serverPid: number }> {
  // node --import tsx keeps it one process: the tsx CLI would put a wrapper in between.
  const holder = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/hold-livekit.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: holder.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  const { pid } = JSON.parse(line) as { pid: number };
  return { holder, serverPid: pid };
}

describe('LocalLiveKit leaves no orphan livekit-server', () => {
  for (const signal of ['SIGKILL', 'SIGINT', 'SIGTERM'] as const) {
    it(`when its owner dies by ${signal}`, async () => {
      const { holder, serverPid } = await startHolder();
      expect(alive(serverPid)).toBe(true);
      holder.kill(signal);
      await once(holder, 'exit');
      await waitFor(() => !alive(serverPid), 15_000, `livekit-server ${serverPid} to exit`);
      expect(alive(serverPid)).toBe(false);
    });
  }
});
