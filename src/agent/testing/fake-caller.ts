import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  type Participant,
  type RemoteParticipant,
  type RemoteTrack,
} from '@livekit/rtc-node';
import { rmsDbfs } from '../../audio/analysis.js';
import { filterRoomEvents } from '../../livekit/testing/room-event-filter.js';
import { AGENT_STATE_ATTRIBUTE } from '../state.js';
import { CALLER_TRACK_NAME } from '../caller.js';

export const CALLER_RATE_HZ = 8000;
const FRAME_MS = 20;
const FRAME_SAMPLES = (CALLER_RATE_HZ * FRAME_MS) / 1000;

export interface ReceivedFrame {
  atMs: number;
  samples: Int16Array;
  /** The agent track it came from: an agent may speak on more than one (a prompt track). */
  trackSid: string;
}

/**
 * Plays the bridge's part in tests: joins as `phone-…`, publishes `phone-audio` from an
 * 8 kHz source that never stops (a phone line carries silence between words, and the VAD
 * needs that silence to find the end of a turn), and records what the agent publishes.
 */
export class FakeCaller {
  readonly room = filterRoomEvents(new Room());
  readonly received: ReceivedFrame[] = [];
  readonly agentStates: { atMs: number; state: string }[] = [];
  /** Data packets from the agent or from the server (no participant), with when they arrived. */
  readonly dataPackets: { atMs: number; topic?: string; payload: string }[] = [];
  /** When the agent subscribed to our track (livekit-server's "track subscribed" signal). */
  subscribedAt?: number;
  private readonly source = new AudioSource(CALLER_RATE_HZ, 1, 60);
  private readonly track = LocalAudioTrack.createAudioTrack(CALLER_TRACK_NAME, this.source);
  private queue: Int16Array[] = [];
  private pumping?: Promise<void>;
  private readers: Promise<void>[] = [];
  private stopped = false;
  private streamReaders: ReadableStreamDefaultReader<AudioFrame>[] = [];

  /** Frames of caller audio played so far (silence included). */
  sentFrames = 0;
  /** Wall-clock time each queued utterance started being sent, by play() order. */
  readonly playStarts: number[] = [];

  /** `publish: false` joins without the caller's track; call publish() when it should appear. */
  async join(url: string, token: string, opts: { publish?: boolean } = {}): Promise<void> {
    this.room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) =>
      this.onTrack(track, participant),
    );
    this.room.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) =>
      this.onAttributes(changed, participant),
    );
    this.room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
      if (participant && participant.kind !== ParticipantKind.AGENT) return;
      this.dataPackets.push({
        atMs: Date.now(),
        topic,
        payload: new TextDecoder().decode(payload),
      });
    });
    this.room.on(RoomEvent.LocalTrackSubscribed, () => {
      this.subscribedAt ??= Date.now();
    });
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    if (opts.publish !== false) await this.publish();
  }

  /** Publishes `phone-audio` and starts sending (silence until play() queues audio). */
  async publish(): Promise<void> {
    if (this.pumping) return;
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant!.publishTrack(this.track, options);
    this.pumping = this.pump();
  }

  get agent(): RemoteParticipant | undefined {
    for (const p of this.room.remoteParticipants.values()) {
      if (p.kind === ParticipantKind.AGENT) return p;
    }
    return undefined;
  }

  /** Queues audio to be sent after what is already queued; resolves when it has been sent. */
  async play(samples: Int16Array): Promise<void> {
    const frames: Int16Array[] = [];
    for (let off = 0; off < samples.length; off += FRAME_SAMPLES) {
      const f = new Int16Array(FRAME_SAMPLES);
      f.set(samples.subarray(off, Math.min(off + FRAME_SAMPLES, samples.length)));
      frames.push(f);
    }
    const marker = frames[frames.length - 1];
    const first = frames[0];
    this.queue.push(...frames);
    while (this.queue.includes(first!)) await sleep(5);
    this.playStarts.push(Date.now());
    while (this.queue.includes(marker!)) await sleep(5);
  }

  /** Agent audio received since `sinceMs` (wall clock), concatenated. */
  audioSince(sinceMs = 0): Int16Array {
    const parts = this.received.filter((f) => f.atMs >= sinceMs).map((f) => f.samples);
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** First time at or after `sinceMs` the agent's audio rose above `minDbfs` in a 20 ms frame. */
  firstAudibleAt(sinceMs = 0, minDbfs = -45): number | undefined {
    return this.received.find((f) => f.atMs >= sinceMs && rmsDbfs(f.samples) > minDbfs)?.atMs;
  }

  async leave(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.pumping;
    // The streams are locked by their readers: cancel through the readers.
    for (const r of this.streamReaders) await r.cancel().catch(() => undefined);
    await Promise.allSettled(this.readers);
    await this.track.close().catch(() => undefined);
    await this.source.close().catch(() => undefined);
    await this.room.disconnect();
  }

  private async pump(): Promise<void> {
    const silence = new Int16Array(FRAME_SAMPLES);
    while (!this.stopped && this.room.isConnected) {
      const next = this.queue[0] ?? silence;
      // captureFrame blocks while the source's 60 ms queue is full: real-time pacing.
      await this.source.captureFrame(new AudioFrame(next, CALLER_RATE_HZ, 1, FRAME_SAMPLES));
      if (this.queue[0] === next) this.queue.shift();
      this.sentFrames++;
    }
  }

  private onTrack(track: RemoteTrack, participant: RemoteParticipant): void {
    if (participant.kind !== ParticipantKind.AGENT || track.kind !== TrackKind.KIND_AUDIO) return;
    const stream = new AudioStream(track, {
      sampleRate: CALLER_RATE_HZ,
      numChannels: 1,
      frameSizeMs: FRAME_MS,
    });
    const reader = stream.getReader();
    const trackSid = track.sid ?? '';
    this.streamReaders.push(reader);
    this.readers.push(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          this.received.push({ atMs: Date.now(), samples: value.data.slice(), trackSid });
        }
      })().catch(() => undefined),
    );
  }

  private onAttributes(changed: Record<string, string>, participant: Participant): void {
    const state = changed[AGENT_STATE_ATTRIBUTE];
    if (state !== undefined && participant.kind === ParticipantKind.AGENT) {
      this.agentStates.push({ atMs: Date.now(), state });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The `lengthMs` of audio starting `skipMs` after the first 20 ms frame louder than
 * `minDbfs`, located by sample position (arrival times are bursty under load).
 */
export function audibleWindow(
  samples: Int16Array,
  skipMs: number,
  lengthMs: number,
  minDbfs = -45,
): Int16Array {
  for (let off = 0; off + FRAME_SAMPLES <= samples.length; off += FRAME_SAMPLES) {
    if (rmsDbfs(samples.subarray(off, off + FRAME_SAMPLES)) > minDbfs) {
      const start = off + (skipMs * CALLER_RATE_HZ) / 1000;
      return samples.subarray(start, start + (lengthMs * CALLER_RATE_HZ) / 1000);
    }
  }
  return new Int16Array(0);
}
