// Reproduces the silent subscription of docs/decisions.md: two participants per room publish
// at the same moment, then B measures A's tone. A subscription that decodes to exact zeros is
// counted, renewed (unsubscribe, subscribe) and measured again.
//   ROUNDS=4 PAR=8 RESUB=1 NODE_ENV=production npx tsx scripts/silent-subscription-probe.ts
// On 2026-11-26, 2 cores: 32 subscriptions, 6 silent (all in one round), 6 fixed by resubscribing.
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteTrack,
  type RemoteTrackPublication,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { LocalLiveKit } from '../src/livekit/local.js';
import { tone } from '../src/audio/analysis.js';
import { filterRoomEvents } from '../src/livekit/testing/room-event-filter.js';

const lk = await LocalLiveKit.start({});
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const PAR = Number(process.env.PAR ?? 8);
const RESUB = process.env.RESUB === '1';
const tok = async (id: string, room: string) => {
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity: id });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
  return at.toJwt();
};
const pub = async (room: Room, name: string) => {
  const src = new AudioSource(8000, 1, 60);
  const tr = LocalAudioTrack.createAudioTrack(name, src);
  const o = new TrackPublishOptions();
  o.source = TrackSource.SOURCE_MICROPHONE;
  await room.localParticipant!.publishTrack(tr, o);
  let stop = false;
  const t = tone(440, 1000, 8000, 0.5);
  const loop = (async () => {
    while (!stop)
      for (let off = 0; off < t.length && !stop; off += 160)
        await src.captureFrame(new AudioFrame(t.slice(off, off + 160), 8000, 1, 160));
  })();
  return async () => {
    stop = true;
    await loop;
    await tr.close();
    await src.close();
  };
};
async function one(i: number): Promise<{ zeros: boolean; resubFixed?: boolean }> {
  const name = `race-${process.pid}-${i}`;
  const a = filterRoomEvents(new Room()),
    b = filterRoomEvents(new Room());
  let track: RemoteTrack | undefined;
  let pubB: RemoteTrackPublication | undefined;
  b.on(RoomEvent.TrackSubscribed, (t, p) => {
    if (t.kind === TrackKind.KIND_AUDIO) {
      track = t;
      pubB = p;
    }
  });
  await Promise.all([
    a.connect(lk.url, await tok('a', name), { autoSubscribe: true, dynacast: false }),
    b.connect(lk.url, await tok('b', name), { autoSubscribe: true, dynacast: false }),
  ]);
  const [sa, sb] = await Promise.all([pub(a, 'a-audio'), pub(b, 'b-audio')]);
  const t0 = Date.now();
  while (!track && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
  const measure = async (t: RemoteTrack) => {
    const rd = new AudioStream(t, {
      sampleRate: 8000,
      numChannels: 1,
      frameSizeMs: 20,
    }).getReader();
    let peak = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      const { done, value } = await rd.read();
      if (done) break;
      for (const v of value.data) if (Math.abs(v) > peak) peak = Math.abs(v);
    }
    await rd.cancel();
    return peak;
  };
  let res: { zeros: boolean; resubFixed?: boolean } = { zeros: true };
  if (track) {
    await new Promise((r) => setTimeout(r, 500));
    const peak = await measure(track);
    res = { zeros: peak === 0 };
    if (peak === 0 && RESUB) {
      track = undefined;
      pubB?.setSubscribed(false);
      await new Promise((r) => setTimeout(r, 300));
      pubB?.setSubscribed(true);
      const t1 = Date.now();
      while (!track && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 20));
      res.resubFixed = track ? (await measure(track)) > 0 : false;
    }
  }
  await sa();
  await sb();
  await a.disconnect();
  await b.disconnect();
  return res;
}
let zeros = 0,
  total = 0,
  fixed = 0;
for (let r = 0; r < ROUNDS; r++) {
  const out = await Promise.all(Array.from({ length: PAR }, (_, k) => one(r * PAR + k)));
  for (const o of out) {
    total++;
    if (o.zeros) zeros++;
    if (o.resubFixed) fixed++;
  }
  console.log(
    `round ${r}: zeros ${out.filter((o) => o.zeros).length}/${PAR} resubFixed ${out.filter((o) => o.resubFixed).length}`,
  );
}
console.log(`TOTAL zeros ${zeros}/${total}, fixed by resubscribe ${fixed}`);
await lk.stop();
await dispose();
process.exit(0);
