import { describe, expect, it } from 'vitest';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  type RemoteTrack,
} from '@livekit/rtc-node';
import { dominantFrequency, longestGapMs, rmsDbfs, tone } from '../../src/audio/analysis.js';
import { livekit, roomService, tokenFor, uniqueRoom, waitFor } from '../helpers/livekit.js';

const RATE = 48_000;
const FRAME = RATE / 100; // 10 ms

describe('real livekit-server smoke test', () => {
  it('carries a 1 kHz tone between two rtc-node participants, then deletes the room', async () => {
    const lk = livekit();
    const svc = roomService();
    const name = uniqueRoom('smoke');
    await svc.createRoom({ name, emptyTimeout: 10 });
    const baselineResources = process.getActiveResourcesInfo().length;

    const sender = new Room();
    const receiver = new Room();
    await receiver.connect(lk.url, await tokenFor('receiver', name), {
      autoSubscribe: true,
      dynacast: false,
    });
    const subscribed = new Promise<RemoteTrack>((resolve) =>
      receiver.on(RoomEvent.TrackSubscribed, (track) => resolve(track)),
    );
    await sender.connect(lk.url, await tokenFor('sender', name), {
      autoSubscribe: false,
      dynacast: false,
    });

    const source = new AudioSource(RATE, 1, 100);
    const track = LocalAudioTrack.createAudioTrack('tone', source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await sender.localParticipant!.publishTrack(track, options);

    const remote = await subscribed;
    const stream = new AudioStream(remote, { sampleRate: RATE, numChannels: 1 });
    const received: Int16Array[] = [];
    let receivedSamples = 0;
    const reading = (async () => {
      for await (const frame of stream) {
        received.push(frame.data.slice());
        receivedSamples += frame.samplesPerChannel;
        if (receivedSamples >= RATE * 3.5) break;
      }
    })();

    // 4 s of tone, paced by captureFrame's own back-pressure (its queue is 100 ms).
    const signal = tone(1000, 4000, RATE, 0.5);
    for (let off = 0; off + FRAME <= signal.length; off += FRAME) {
      await source.captureFrame(new AudioFrame(signal.slice(off, off + FRAME), RATE, 1, FRAME));
    }
    await reading;

    const all = new Int16Array(receivedSamples);
    let o = 0;
    for (const c of received) {
      all.set(c, o);
      o += c.length;
    }
    // Judge the last second: by then jitter buffers and Opus have settled.
    const last = all.subarray(all.length - RATE);
    expect(Math.abs(dominantFrequency(last, RATE, 200, 4000) - 1000)).toBeLessThan(20);
    expect(Math.abs(rmsDbfs(last) - rmsDbfs(signal))).toBeLessThan(3);
    expect(longestGapMs(last, RATE)).toBeLessThan(5);

    await stream.cancel();
    await track.close();
    await source.close();
    await sender.disconnect();
    await receiver.disconnect();
    await svc.deleteRoom(name);
    const rooms = await svc.listRooms();
    expect(rooms.map((r) => r.name)).not.toContain(name);
    expect(sender.isConnected).toBe(false);
    expect(receiver.isConnected).toBe(false);
    // Every timer and socket the two sessions opened is gone again.
    await waitFor(
      () => process.getActiveResourcesInfo().length <= baselineResources,
      5_000,
      'resources to be released',
    );
  });
});
