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
} from '@livekit/rtc-node';
import { concatPcm } from '../../src/audio/analysis.js';
import { filterRoomEvents } from '../../src/livekit/testing/room-event-filter.js';
import { livekit, tokenFor } from './livekit.js';

const RATE = 8000;
const FRAME = 160;

/**
 * A test participant that plays the agent: joins as kind `agent`, records what the
 * caller publishes, and speaks PCM at real-time pace.
 */
export class FakeAgent {
  readonly room = filterRoomEvents(new Room());
  source = new AudioSource(RATE, 1, 200);
  readonly heard: Int16Array[] = [];
  readonly dtmf: string[] = [];
  /** The MIME type of the caller's track, as the room announced it. */
  private codec?: string;
  private track?: LocalAudioTrack;
  private reading?: Promise<void>;
  private leaving = false;
  /** A reader, not the stream: a stream locked by its reader cannot be cancelled. */
  private reader?: ReadableStreamDefaultReader<AudioFrame>;

  /** `publish: false` makes a listen-only agent: no encoder, half the CPU of a full one. */
  static async join(
    roomName: string,
    identity = 'agent-test',
    opts: { publish?: boolean } = {},
  ): Promise<FakeAgent> {
    const agent = new FakeAgent();
    agent.room.on(RoomEvent.TrackSubscribed, (track, publication) => {
      // Not once leave() has begun: a subscription that lands during it would start a read
      // loop that leave() then awaits on a stream that never ends (bridge-lifecycle hung 60 s).
      if (track.kind !== TrackKind.KIND_AUDIO || agent.reader || agent.leaving) return;
      agent.codec = publication.mimeType;
      const reader = new AudioStream(track, {
        sampleRate: RATE,
        numChannels: 1,
        frameSizeMs: 20,
      }).getReader();
      agent.reader = reader;
      agent.reading = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          agent.heard.push(value.data.slice());
        }
      })().catch(() => undefined);
    });
    agent.room.on(RoomEvent.DtmfReceived, (_code, digit) => agent.dtmf.push(digit));
    await agent.room.connect(livekit().url, await tokenFor(identity, roomName, {}, 'agent'), {
      autoSubscribe: true,
      dynacast: false,
    });
    if (opts.publish === false) return agent;
    agent.track = LocalAudioTrack.createAudioTrack('agent-audio', agent.source);
    const publishOptions = new TrackPublishOptions();
    publishOptions.source = TrackSource.SOURCE_MICROPHONE;
    await agent.room.localParticipant!.publishTrack(agent.track, publishOptions);
    return agent;
  }

  callerCodec(): string | undefined {
    return this.codec;
  }

  /** Everything heard so far as one buffer. */
  recording(): Int16Array {
    return concatPcm(this.heard);
  }

  /** Speaks PCM at real time (captureFrame paces through the source's small queue). */
  async say(pcm: Int16Array, signal?: AbortSignal): Promise<void> {
    for (let off = 0; off + FRAME <= pcm.length; off += FRAME) {
      if (signal?.aborted) return;
      await this.source.captureFrame(new AudioFrame(pcm.slice(off, off + FRAME), RATE, 1, FRAME));
    }
  }

  /** Unpublishes the audio track and publishes a fresh one, as an agent may mid-call. */
  async replaceTrack(): Promise<void> {
    const old = this.track;
    if (old?.sid) await this.room.localParticipant!.unpublishTrack(old.sid);
    await old?.close();
    await this.source.close();
    this.source = new AudioSource(RATE, 1, 200);
    this.track = LocalAudioTrack.createAudioTrack('agent-audio-2', this.source);
    const publishOptions = new TrackPublishOptions();
    publishOptions.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant!.publishTrack(this.track, publishOptions);
  }

  async setState(state: string): Promise<void> {
    await this.room.localParticipant!.setAttributes({ 'lk.agent.state': state });
  }

  async leave(): Promise<void> {
    this.leaving = true;
    await this.reader?.cancel().catch(() => undefined);
    await this.track?.close();
    await this.source.close();
    await this.room.disconnect();
    await this.reading;
  }
}
