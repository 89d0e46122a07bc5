/**
 * How rtc-node's event dispatch scales with the number of calls in one process.
 *
 *   npx tsx bench/ffi-dispatch.ts [--calls 1,10,50,100,150]
 *
 * rtc-node 0.13 delivers every native event through ONE EventEmitter (FfiClient, see
 * node_modules/@livekit/rtc-node/dist/ffi_client.cjs): each Room, each AudioStream and each
 * pending captureFrame (`waitFor`) is a listener that sees every event of every call and
 * filters by handle or async id. Per call and second a bridge receives ~100 events (50
 * captureFrame callbacks, 50 AudioStream frames) and holds ~3 listeners, so the filtering
 * work grows with calls² while the useful work grows with calls. This reproduces that
 * dispatch shape with the same listener bodies (a predicate on `ev.message.case` and an id)
 * and reports the main-thread CPU it would take at each call count. It models only the
 * dispatch; protobuf decoding of each event (also on the main thread) comes on top and
 * grows linearly.
 */
import { EventEmitter } from 'node:events';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '1,10,50,100,150' } },
});

interface Ev {
  message: { case: string; value: { asyncId?: bigint; streamHandle?: bigint } };
}

function run(calls: number): { nsPerEvent: number; corePercent: number } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let hits = 0;
  // Per call: a Room listener, an AudioStream listener and one pending captureFrame waitFor.
  for (let c = 0; c < calls; c++) {
    const handle = BigInt(c + 1);
    const roomHandle = BigInt(100_000 + c);
    emitter.on('ffi_event', (ev: Ev) => {
      if (ev.message.case !== 'roomEvent' || ev.message.value.streamHandle !== roomHandle) return;
      hits++;
    });
    emitter.on('ffi_event', (ev: Ev) => {
      if (ev.message.case !== 'audioStreamEvent' || ev.message.value.streamHandle !== handle)
        return;
      hits++;
    });
    const asyncId = BigInt(200_000 + c);
    emitter.on('ffi_event', (ev: Ev) => {
      if (ev.message.case === 'captureAudioFrame' && ev.message.value.asyncId === asyncId) hits++;
    });
  }
  // One second's worth of events for `calls` calls: 50 capture callbacks + 50 frames each.
  const events: Ev[] = [];
  for (let c = 0; c < calls; c++)
    for (let i = 0; i < 50; i++) {
      events.push({
        message: { case: 'captureAudioFrame', value: { asyncId: BigInt(200_000 + c) } },
      });
      events.push({
        message: { case: 'audioStreamEvent', value: { streamHandle: BigInt(c + 1) } },
      });
    }
  for (let w = 0; w < 3; w++) for (const e of events) emitter.emit('ffi_event', e); // warm-up
  const rounds = 5;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const e of events) emitter.emit('ffi_event', e);
  const ns = Number(process.hrtime.bigint() - t0) / rounds; // ns per simulated second
  if (hits === 0) throw new Error('no listener matched');
  return { nsPerEvent: ns / events.length, corePercent: ns / 1e7 };
}

console.log('calls  listeners  events/s  ns/event  main-thread CPU for dispatch (% of a core)');
for (const n of values.calls.split(',').map(Number)) {
  const r = run(n);
  console.log(
    `${String(n).padStart(5)}  ${String(3 * n).padStart(9)}  ${String(100 * n).padStart(8)}  ${r.nsPerEvent.toFixed(0).padStart(8)}  ${r.corePercent.toFixed(2)}`,
  );
}
