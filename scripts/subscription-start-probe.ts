// How much of a caller's audio is lost when the caller starts sending the moment it learns
// that someone subscribed (rtc-node's LocalTrackSubscribed, which livekit-server sends when
// the subscriber's down track is bound and connected), and the subscriber opens its
// AudioStream in its TrackSubscribed handler. Nothing else runs in this process.
//
// Each round: a caller publishes an 8 kHz track carrying digital silence; a listener joins
// without auto-subscription and subscribes; on LocalTrackSubscribed the caller sends
// `--lead-ms` of silence and then 1000 ms of a 440 Hz tone. The listener reports how much of
// the tone it received (loud 20 ms frames) and when its first frame and first tone frame came.
//
//   npx tsx scripts/subscription-start-probe.ts [--rounds 10] [--lead-ms 0]
import { parseArgs } from 'node:util';
import { AccessToken } from 'livekit-server-sdk';
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
import { rmsDbfs, tone } from '../src/audio/analysis.js';
import { LocalLiveKit } from '../src/livekit/local.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    'lead-ms': { type: 'string', default: '0' },
  },
});
const rounds = Number(values.rounds);
const leadMs = Number(values['lead-ms']);
const RATE = 8000;
const FRAME = RATE / 50;
const TONE_MS = 1000;

const lk = await LocalLiveKit.start();
const token = async (identity: string, room: string) => {
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity, ttl: 600 });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
  return at.toJwt();
};

const results: Record<string, number | undefined>[] = [];
for (let round = 0; round < rounds; round++) {
  const name = `probe-${round}-${Date.now()}`;
  const caller = new Room();
  const listener = new Room();
  const source = new AudioSource(RATE, 1, 60);
  const track = LocalAudioTrack.createAudioTrack('phone-audio', source);
  let sendFrom: number | undefined;
  let subscribedAt: number | undefined;
  const queue: Int16Array[] = [];
  caller.on(RoomEvent.LocalTrackSubscribed, () => {
    subscribedAt ??= performance.now();
    for (let i = 0; i < leadMs / 20; i++) queue.push(new Int16Array(FRAME));
    const t = tone(440, TONE_MS, RATE, 0.5);
    for (let o = 0; o < t.length; o += FRAME) queue.push(t.subarray(o, o + FRAME));
    sendFrom = performance.now();
  });
  await caller.connect(lk.url, await token('phone-probe', name), {
    autoSubscribe: false,
    dynacast: false,
  });
  const options = new TrackPublishOptions();
  options.source = TrackSource.SOURCE_MICROPHONE;
  await caller.localParticipant!.publishTrack(track, options);
  let pumping = true;
  const pump = (async () => {
    const silence = new Int16Array(FRAME);
    while (pumping) {
      await source.captureFrame(new AudioFrame(queue.shift() ?? silence, RATE, 1, FRAME));
    }
  })();

  const frames: { at: number; loud: boolean }[] = [];
  let trackAt: number | undefined;
  let reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
  listener.on(RoomEvent.TrackSubscribed, (t: RemoteTrack) => {
    if (t.kind !== TrackKind.KIND_AUDIO) return;
    trackAt = performance.now();
    reader = new AudioStream(t, { sampleRate: RATE, numChannels: 1, frameSizeMs: 20 }).getReader();
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        frames.push({ at: performance.now(), loud: rmsDbfs(value.data) > -30 });
      }
    })().catch(() => undefined);
  });
  let subscribeAt = 0;
  const subscribe = (pub: RemoteTrackPublication) => {
    subscribeAt = performance.now();
    pub.setSubscribed(true);
  };
  listener.on(RoomEvent.TrackPublished, subscribe);
  await listener.connect(lk.url, await token('agent-probe', name), {
    autoSubscribe: false,
    dynacast: false,
  });
  for (const p of listener.remoteParticipants.values()) {
    for (const pub of p.trackPublications.values()) subscribe(pub);
  }
  await new Promise((r) => setTimeout(r, TONE_MS + leadMs + 2000));
  pumping = false;
  await pump;
  const loud = frames.filter((f) => f.loud);
  results.push({
    round,
    subscribedSignalMs: subscribedAt && subscribedAt - subscribeAt,
    trackSubscribedMs: trackAt && trackAt - subscribeAt,
    firstFrameAfterSignalMs: frames[0] && subscribedAt && Math.round(frames[0].at - subscribedAt),
    firstToneAfterSendMs: loud[0] && sendFrom && Math.round(loud[0].at - sendFrom),
    toneReceivedMs: loud.length * 20,
    toneLostMs: TONE_MS - loud.length * 20,
  });
  console.log(
    JSON.stringify(results.at(-1), (_k, v) => (typeof v === 'number' ? Math.round(v) : v)),
  );
  await reader?.cancel().catch(() => undefined);
  await track.close();
  await source.close();
  await caller.disconnect();
  await listener.disconnect();
}
const lost = results.map((r) => r.toneLostMs ?? TONE_MS).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    leadMs,
    rounds,
    toneLostMsP50: lost[Math.floor(lost.length / 2)],
    toneLostMsMax: lost.at(-1),
  }),
);
await dispose();
await lk.stop();
