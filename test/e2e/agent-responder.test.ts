import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { goertzelPower, tone } from '../../src/audio/analysis.js';
import { LoopbackResponder } from '../../src/agent/responder.js';
import { WorkerProcess } from '../../src/agent/testing/worker-process.js';
import { CALLER_RATE_HZ, FakeCaller, audibleWindow } from '../../src/agent/testing/fake-caller.js';
import { createLogger } from '../../src/log.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const ROOMS = Number(process.env.PB_TEST_ROOMS ?? 10);

describe('LoopbackResponder (many rooms, one process)', () => {
  afterAll(async () => {
    await dispose();
  });

  it(
    `mirrors ${ROOMS} concurrent calls, each its own tone, and leaves when they end`,
    { timeout: 180_000 },
    async () => {
      const lk = livekit();
      const svc = roomService();
      // A prefix of our own, so responders of other test files never touch these rooms.
      const prefix = `call-resp${process.pid}-`;
      const names = Array.from({ length: ROOMS }, () => uniqueRoom(prefix.slice(0, -1)));
      // The CLI in its own process, as load tests run it: 10 callers plus 10 mirrors in one
      // process would measure this test's CPU starvation rather than the responder.
      const responder = await WorkerProcess.start({
        command: 'responder',
        args: ['--room-prefix', prefix, '--poll-ms', '100'],
        env: {
          LIVEKIT_URL: lk.url,
          LIVEKIT_API_KEY: lk.apiKey,
          LIVEKIT_API_SECRET: lk.apiSecret,
          LOG_LEVEL: 'debug',
        },
      });
      const joined = () => responder.logs.filter((l) => l.msg === 'responder joined room').length;
      const left = () => responder.logs.filter((l) => l.msg === 'responder left room').length;
      const callers = names.map(() => new FakeCaller());
      try {
        await Promise.all(names.map((name) => svc.createRoom({ name, emptyTimeout: 30 })));
        await Promise.all(
          callers.map(async (c, i) =>
            c.join(lk.url, await tokenFor(`phone-1555000${1000 + i}`, names[i]!), {
              publish: false,
            }),
          ),
        );
        // The callers publish only once the responder's own track is up in their room. A
        // track published while the subscriber is itself still negotiating its own publish
        // sometimes reaches rtc-node 0.13 as exact zeros although its RTP arrives (about one
        // room in 20 here, after a busy file; docs/decisions.md, "Known issue: a silent
        // subscription"). This test is about isolation and leaving, not that race.
        await waitFor(
          () => callers.every((c) => (c.agent?.trackPublications.size ?? 0) > 0),
          60_000,
          'responder publishing in every room',
        );
        await Promise.all(callers.map((c) => c.publish()));
        await waitFor(
          () => callers.every((c) => c.agentStates.at(-1)?.state === 'speaking'),
          60_000,
          'every mirror running',
        );
        // Each room gets its own frequency, so crossed wires would show. Four seconds, as a
        // caller keeps talking: long enough for a silent subscription to be noticed (the SFU
        // names the caller a speaker after ~0.7 s, the watchdog waits 1.5 s) and renewed.
        const freqs = callers.map((_, i) => 300 + i * 100);
        const before = Date.now();
        await Promise.all(
          callers.map((c, i) => c.play(tone(freqs[i]!, 4000, CALLER_RATE_HZ, 0.5))),
        );
        await waitFor(
          () => callers.every((c) => c.firstAudibleAt(before) !== undefined),
          60_000,
          'all mirrored',
        );
        await new Promise((r) => setTimeout(r, 1000));
        // Which of the ten frequencies each caller hears loudest. Exact pitch is checked by the
        // single-call loopback test; here the point is that every room gets its own audio back
        // (no crossed wires), which stays true even when a busy CI machine makes audio glitch.
        const heard = callers.map((c) => {
          const back = audibleWindow(c.audioSince(before), 200, 1000, -20);
          const powers = freqs.map((f) => goertzelPower(back, CALLER_RATE_HZ, f));
          return freqs[powers.indexOf(Math.max(...powers))];
        });
        console.log(`responder: sent ${freqs.join(',')} Hz, heard back ${heard.join(',')} Hz`);
        expect(heard).toEqual(freqs);
        expect(joined()).toBe(ROOMS);
        expect(left()).toBe(0);

        // Callers hang up: the responder leaves each room by itself.
        await Promise.all(callers.map((c) => c.leave()));
        await waitFor(() => left() === ROOMS, 15_000, 'responder to leave all rooms');
      } finally {
        await Promise.all(callers.map((c) => c.leave()));
        await Promise.all(names.map((n) => svc.deleteRoom(n).catch(() => undefined)));
        // SIGTERM: it must leave, dispose and exit 0 by itself.
        expect(await responder.stop()).toBe(0);
      }
    },
  );

  it('leaves a room that is deleted under it and stops cleanly on abort', async () => {
    const lk = livekit();
    const svc = roomService();
    const prefix = `call-del${process.pid}-`;
    const name = uniqueRoom(prefix.slice(0, -1));
    const stop = new AbortController();
    const responder = new LoopbackResponder({
      ...lk,
      logger: createLogger({ level: 'warn' }),
      roomPrefix: prefix,
    });
    const running = responder.start(stop.signal);
    const caller = new FakeCaller();
    try {
      await svc.createRoom({ name, emptyTimeout: 30 });
      await caller.join(lk.url, await tokenFor('phone-anonymous', name));
      await waitFor(
        () => responder.stats().active === 1 && caller.agent !== undefined,
        15_000,
        'responder joined',
      );
      await svc.deleteRoom(name);
      await waitFor(
        () => responder.stats().active === 0,
        15_000,
        'responder left the deleted room',
      );
    } finally {
      stop.abort();
      await running;
      await caller.leave();
    }
  });
});
