import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { goertzelPower, rmsDbfs, tone } from '../../src/audio/analysis.js';
import { CALLER_RATE_HZ, FakeCaller } from '../../src/agent/testing/fake-caller.js';
import { startMirror } from '../../src/engine/mirror.js';
import { createLogger } from '../../src/log.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const ROOMS = Number(process.env.PB_TEST_ROOMS ?? 10);

/** A mirror on the run's livekit-server, serving only rooms with this file's own prefix. */
async function mirrorFor(prefix: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const mirror = await startMirror({
    ...livekit(),
    log: createLogger({ level: 'debug', destination: sink }),
    roomPrefix: prefix,
    pollMs: 100,
    logLevel: 'debug',
  });
  const count = (msg: string) => lines.filter((l) => l.msg === msg).length;
  return { mirror, lines, count };
}

describe('mirror agent (media engine, many rooms, one process)', () => {
  afterAll(async () => {
    await dispose();
  });

  it(
    `mirrors ${ROOMS} concurrent calls, each its own tone, and leaves when they end`,
    { timeout: 180_000 },
    async () => {
      const svc = roomService();
      const prefix = `call-mirror${process.pid}-`;
      const names = Array.from({ length: ROOMS }, () => uniqueRoom(prefix.slice(0, -1)));
      const { mirror, count } = await mirrorFor(prefix);
      const callers = names.map(() => new FakeCaller());
      try {
        await Promise.all(names.map((name) => svc.createRoom({ name, emptyTimeout: 30 })));
        await Promise.all(
          callers.map(async (c, i) =>
            c.join(livekit().url, await tokenFor(`phone-1555000${1000 + i}`, names[i]!)),
          ),
        );
        await waitFor(
          () => callers.every((c) => c.agentStates.at(-1)?.state === 'speaking'),
          60_000,
          'every mirror running',
        );
        // Each room gets its own frequency, so crossed wires would show.
        const freqs = callers.map((_, i) => 300 + i * 100);
        const before = Date.now();
        await Promise.all(
          callers.map((c, i) => c.play(tone(freqs[i]!, 2000, CALLER_RATE_HZ, 0.5))),
        );
        // Judged on every loud frame heard, wherever it fell: under load the jitter buffers
        // deliver the tone late or in pieces, and the question here is only whose tone it is.
        const loud = (c: FakeCaller) =>
          c.received.filter((f) => f.atMs >= before && rmsDbfs(f.samples) > -20);
        await waitFor(
          () => callers.every((c) => loud(c).length >= 25),
          60_000,
          'half a second of each tone mirrored',
        );
        const heard = callers.map((c) => {
          const powers = freqs.map((f) =>
            loud(c).reduce((sum, fr) => sum + goertzelPower(fr.samples, CALLER_RATE_HZ, f), 0),
          );
          return freqs[powers.indexOf(Math.max(...powers))];
        });
        expect(heard).toEqual(freqs);
        expect(count('Mirror joined the room')).toBe(ROOMS);
        expect(count('Mirror left the room')).toBe(0);

        // Callers hang up: the mirror leaves each room by itself.
        await Promise.all(callers.map((c) => c.leave()));
        await waitFor(
          () => count('Mirror left the room') === ROOMS,
          15_000,
          'mirror to leave all rooms',
        );
      } finally {
        await Promise.all(callers.map((c) => c.leave()));
        await Promise.all(names.map((n) => svc.deleteRoom(n).catch(() => undefined)));
        await mirror.stop();
      }
      // SIGTERM: it leaves every room and exits 0 by itself.
      expect(await mirror.exited).toBe(0);
    },
  );

  it('leaves a room that is deleted under it', async () => {
    const svc = roomService();
    const prefix = `call-mdel${process.pid}-`;
    const name = uniqueRoom(prefix.slice(0, -1));
    const { mirror, count } = await mirrorFor(prefix);
    const caller = new FakeCaller();
    try {
      await svc.createRoom({ name, emptyTimeout: 30 });
      await caller.join(livekit().url, await tokenFor('phone-anonymous', name));
      await waitFor(() => caller.agent !== undefined, 15_000, 'mirror joined');
      await svc.deleteRoom(name);
      await waitFor(
        () => count('Mirror left the room') === 1,
        15_000,
        'mirror left the deleted room',
      );
    } finally {
      await caller.leave();
      await mirror.stop();
    }
  });
});
