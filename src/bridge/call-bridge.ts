import {
  AudioFrame,
  AudioSource,
  AudioStream,
  DisconnectReason,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type RpcInvocationData,
} from '@livekit/rtc-node';
import { encoderFor, type Codec } from '../audio/g711.js';
import { InboundFramer } from '../audio/inbound-framer.js';
import { decodeBase64Into, encodeBase64 } from '../audio/base64.js';
import type { Config } from '../config/schema.js';
import { phoneIdentity, phoneParticipantToken } from '../livekit/tokens.js';
import { filterRoomEvents } from '../livekit/room-event-filter.js';
import {
  SilentTrackWatchdog,
  renewSubscription,
  subscribedAudioOf,
} from '../livekit/silent-track-watchdog.js';
import type { Metrics } from '../server/metrics.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Call, EndReason } from './call.js';
import { InboundPump } from './inbound-pump.js';
import { OutboundPacer } from './outbound-pacer.js';
import { loadPrompt } from './prompts.js';

const SAMPLE_RATE_HZ = 8000;
const FRAME_SAMPLES = 160;
/** Below this peak a frame counts as silence (about -54 dBFS): comfort noise, not speech. */
const SILENCE_PEAK = 64;
const AGENT_STATE = 'lk.agent.state';
/** After a connect or reconnect, held silence is skipped until at most this much is buffered. */
const CATCH_UP_TARGET_MS = 60;

function peakOf(pcm: Int16Array): number {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]!;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  return peak;
}

export interface BridgeDeps {
  config: Config;
  metrics: Metrics;
  callControl: CallControl;
  /** Ends the call for good (registry.end); the bridge asks, the registry decides. */
  endCall: (reason: EndReason) => void;
}

export interface BridgeStart {
  streamSid: string;
  codec: Codec;
  /** Sends one text message to Twilio. */
  send: (message: string) => void;
  /** Closes the Twilio WebSocket, which makes Twilio run the TwiML after `<Connect>`. */
  closeStream: (code: number, reason: string) => void;
}

const DTMF_CODES: Record<string, number> = { '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15 };
/** More digits than anyone types while a call connects; beyond this they are dropped. */
const MAX_PENDING_DTMF = 32;
const DTMF_SETTLE_MS = 1000;

/**
 * One call's audio path: Twilio media ⇄ a LiveKit room. Everything it starts hangs
 * off `call.signal`; `call.onTeardown` releases it all when the call ends, whoever
 * ended it.
 */
export class CallBridge {
  private readonly room = filterRoomEvents(new Room());
  private readonly source = new AudioSource(SAMPLE_RATE_HZ, 1, 1000);
  private track?: LocalAudioTrack;
  /**
   * The agent audio being forwarded, held as a reader: cancelling an AudioStream that a
   * `for await` has locked throws, so only the reader can stop it (and free its handle).
   */
  private agentAudio?: ReadableStreamDefaultReader<AudioFrame>;
  private agent?: RemoteParticipant;
  private readonly framer: InboundFramer;
  private readonly pump: InboundPump;
  readonly pacer: OutboundPacer;
  private readonly encode;
  private readonly encodeBuf = Buffer.alloc(FRAME_SAMPLES);
  private readonly decodeBuf = Buffer.alloc(64 * 1024);
  private agentTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private agentSpeaking = false;
  /** The SFU lists the agent among the active speakers (it measures the agent's RTP). */
  private agentHeardBySfu = false;
  private resubscribeTimer?: NodeJS.Timeout;
  private readonly silentAgent = new SilentTrackWatchdog({
    isSpeaking: () => this.agentSpeaking || this.agentHeardBySfu,
    onSilent: () => this.resubscribeAgentAudio(),
  });
  private ready = false;
  private endingPhone = false;
  private framesIn = 0;
  private reconnections = 0;
  private dtmfDigits = 0;
  /** Digits pressed before the room could carry them, sent in order once it can (bounded). */
  private pendingDtmf: string[] = [];
  private dtmfOpen = false;
  private dtmfTimer?: NodeJS.Timeout;
  private lastMediaAt = 0;
  private onApologyHeard?: () => void;
  /** Attributes asked for before the room was joined; set once it is. */
  private pendingAttributes?: Record<string, string>;
  private connected = false;

  constructor(
    private readonly call: Call,
    private readonly deps: BridgeDeps,
    private readonly stream: BridgeStart,
  ) {
    const { config, metrics } = deps;
    this.encode = encoderFor(stream.codec);
    this.pump = new InboundPump({
      maxHeldFrames: Math.ceil(config.INBOUND_HOLD_MS / 20),
      capture: (pcm) =>
        this.source.captureFrame(new AudioFrame(pcm, SAMPLE_RATE_HZ, 1, FRAME_SAMPLES)),
      catchUp: {
        queuedMs: () => this.source.queuedDuration,
        isSilent: (pcm) => peakOf(pcm) < SILENCE_PEAK,
        targetMs: CATCH_UP_TARGET_MS,
        frameMs: 20,
      },
      onCaptured: (receivedAt) =>
        metrics.hopLatency.observe({ direction: 'inbound' }, performance.now() - receivedAt),
      onDrop: () => metrics.drops.inc({ direction: 'inbound' }),
      onError: (err) =>
        call.log.warn({ err: (err as Error).message }, 'Could not hand caller audio to LiveKit'),
    });
    this.framer = new InboundFramer(
      (pcm) => {
        this.framesIn++;
        metrics.frames.inc({ direction: 'inbound' });
        metrics.queueDepth.observe({ direction: 'inbound' }, this.pump.depth);
        this.pump.push(pcm, this.lastMediaAt);
      },
      { codec: stream.codec, maxGapFillMs: 1000 },
    );
    this.pacer = new OutboundPacer({
      streamSid: stream.streamSid,
      leadMs: config.OUTBOUND_QUEUE_MS,
      send: stream.send,
      onHop: (ms) => metrics.hopLatency.observe({ direction: 'outbound' }, ms),
    });
  }

  private starting?: Promise<void>;

  /** Joins the room, publishes the caller, waits for the agent. Errors end the call. */
  start(): Promise<void> {
    this.starting ??= this.connectAndPublish();
    return this.starting;
  }

  private async connectAndPublish(): Promise<void> {
    const { call, deps } = this;
    const { config } = deps;
    const signal = call.signal;
    const identity = phoneIdentity(call.from);
    const token = await phoneParticipantToken({
      apiKey: config.LIVEKIT_API_KEY!,
      apiSecret: config.LIVEKIT_API_SECRET!,
      room: call.room,
      identity,
      ttlSeconds: config.TOKEN_TTL_SECONDS,
      metadata: JSON.stringify({ callSid: call.callSid }),
    });
    this.wireRoomEvents();
    await this.room.connect(config.LIVEKIT_URL!, token, { autoSubscribe: false, dynacast: false });
    if (signal.aborted) return;
    call.log.info({ room: call.room, identity }, `Connected to LiveKit room ${call.room}`);
    this.connected = true;
    if (this.pendingAttributes) this.setCallerAttributes(this.pendingAttributes);

    this.track = LocalAudioTrack.createAudioTrack('phone-audio', this.source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant!.publishTrack(this.track, options);
    if (signal.aborted) return;
    call.log.info('Published phone audio track');
    this.room.localParticipant!.registerRpcMethod('phonebridge.transfer', (data) =>
      this.onTransferRpc(data),
    );
    this.ready = true;
    this.pump.resume();
    this.dtmfTimer = setTimeout(() => this.openDtmf(), DTMF_SETTLE_MS);

    for (const p of this.room.remoteParticipants.values()) this.considerParticipant(p);
    if (!this.agent) {
      this.agentTimer = setTimeout(() => {
        if (this.agent || signal.aborted) return;
        call.log.warn(
          { timeoutMs: config.AGENT_JOIN_TIMEOUT_MS },
          'No agent joined in time; apologising to the caller',
        );
        void this.apologiseAndEnd('agent_timeout');
      }, config.AGENT_JOIN_TIMEOUT_MS);
    }
  }

  /**
   * Sets attributes on the phone participant, e.g. the AMD verdict the agent acts on. Asked
   * before the room is joined, they are set once it is. Failures are logged with the call.
   */
  setCallerAttributes(attrs: Record<string, string>): void {
    const participant = this.connected ? this.room.localParticipant : undefined;
    if (!participant) {
      this.pendingAttributes = { ...this.pendingAttributes, ...attrs };
      return;
    }
    this.pendingAttributes = undefined;
    participant.setAttributes(attrs).catch((err: unknown) => {
      this.call.log.warn(
        { err: (err as Error).message, attributes: Object.keys(attrs) },
        'Could not set attributes on the phone participant',
      );
    });
  }

  /** One Twilio `media` message. `receivedAt` is performance.now() at arrival. */
  onMedia(payload: string, timestampMs: number | undefined, receivedAt: number): boolean {
    let n: number;
    try {
      n = decodeBase64Into(payload, this.decodeBuf);
    } catch {
      return false;
    }
    if (n === 0) return false;
    this.lastMediaAt = receivedAt;
    this.framer.push(this.decodeBuf.subarray(0, n), timestampMs);
    return true;
  }

  onDtmf(digit: string): void {
    this.dtmfDigits++;
    // Digits can be PINs: the value is logged at debug level only.
    this.call.log.info('DTMF digit received from caller');
    this.call.log.debug({ digit }, 'DTMF digit');
    if (!this.dtmfOpen) {
      // A caller may press a key while we are still joining: hold it, like caller audio.
      if (this.pendingDtmf.length < MAX_PENDING_DTMF) this.pendingDtmf.push(digit);
      return;
    }
    this.publishDtmf(digit);
  }

  /**
   * Data published in the first moments after joining did not reach the agent here (two
   * digits sent right after the track was published were lost in every run; after the
   * first agent audio frame none was). So digits wait for that frame, or for
   * DTMF_SETTLE_MS after joining when the agent has no audio.
   */
  private openDtmf(): void {
    if (this.dtmfOpen) return;
    this.dtmfOpen = true;
    clearTimeout(this.dtmfTimer);
    for (const digit of this.pendingDtmf.splice(0)) this.publishDtmf(digit);
  }

  private publishDtmf(digit: string): void {
    const code = DTMF_CODES[digit] ?? Number(digit);
    this.room.localParticipant!.publishDtmf(code, digit).catch((err: unknown) => {
      this.call.log.warn({ err: (err as Error).message }, 'Could not publish DTMF to the room');
    });
  }

  onMark(name: string): void {
    if (name === 'pb-apology') {
      this.onApologyHeard?.();
      return;
    }
    const lag = this.pacer.onMarkEcho(name);
    if (lag !== undefined) this.deps.metrics.playbackLag.observe(lag);
  }

  /** Releases every resource; runs once, from the call's teardown. */
  async teardown(): Promise<void> {
    // A connect still in flight would otherwise finish after we left and re-create the
    // deleted room (LiveKit creates rooms on join), leaking it.
    await this.starting?.catch(() => undefined);
    clearTimeout(this.agentTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.resubscribeTimer);
    clearTimeout(this.dtmfTimer);
    this.framer.flush();
    this.pump.close();
    this.pacer.close();
    this.room.removeAllListeners();
    await this.agentAudio?.cancel().catch(() => undefined);
    try {
      await this.track?.close();
    } catch {
      // the room may already have dropped it
    }
    await this.source.close();
    await this.room.disconnect();
  }

  summary(): Record<string, number> {
    const p = this.pacer.stats;
    const f = this.framer.stats;
    return {
      framesIn: this.framesIn,
      framesOut: p.frames,
      underruns: p.underruns,
      dropsIn: this.pump.drops,
      catchUpSkipped: this.pump.skipped,
      dropsOut: p.drops,
      gapFillMs: f.silenceFilledMs,
      maxQueueIn: this.pump.maxDepth,
      maxQueueOut: p.maxQueueFrames,
      reconnections: this.reconnections,
      clears: p.clears,
      dtmf: this.dtmfDigits,
      marksEchoed: p.marksEchoed,
      silentResubscribes: this.silentAgent.fired,
    };
  }

  private wireRoomEvents(): void {
    const { call, deps } = this;
    const room = this.room;
    room.on(RoomEvent.ParticipantConnected, (p) => this.considerParticipant(p));
    room.on(RoomEvent.TrackPublished, (pub, p) => {
      if (this.isAgent(p)) this.subscribeAgentAudio(pub);
    });
    room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
      if (this.isAgent(p) && track.kind === TrackKind.KIND_AUDIO) this.readAgentAudio(track);
    });
    room.on(RoomEvent.TrackUnpublished, (_pub, p) => {
      // The agent's audio went away mid-utterance: drop what Twilio still queues.
      if (this.isAgent(p)) this.bargeIn('agent track unpublished');
    });
    room.on(RoomEvent.TrackMuted, (_pub, p) => {
      if (this.isAgent(p)) this.bargeIn('agent track muted');
    });
    room.on(RoomEvent.ParticipantAttributesChanged, (changed, p) => {
      if (!this.isAgent(p) || !(AGENT_STATE in changed)) return;
      const state = changed[AGENT_STATE];
      call.log.debug({ state }, 'Agent state changed');
      if (this.agentSpeaking && state !== 'speaking') this.bargeIn(`agent state ${state}`);
      this.agentSpeaking = state === 'speaking';
    });
    room.on(RoomEvent.ActiveSpeakersChanged, (speakers) => {
      this.agentHeardBySfu = speakers.some((p) => this.isAgent(p));
    });
    room.on(RoomEvent.ParticipantDisconnected, (p) => {
      if (!this.isAgent(p)) return;
      call.log.info('Agent left the room; ending the call');
      void this.endPhoneLeg('agent_left');
    });
    room.on(RoomEvent.Disconnected, (reason) => {
      if (call.signal.aborted) return;
      const deleted = reason === DisconnectReason.ROOM_DELETED;
      call.log.info(
        { reason },
        deleted
          ? 'Room was deleted; ending the call'
          : 'Disconnected from LiveKit; ending the call',
      );
      void this.endPhoneLeg(deleted ? 'room_deleted' : 'error');
    });
    room.on(RoomEvent.Reconnecting, () => {
      this.reconnections++;
      deps.metrics.reconnections.inc();
      this.pump.pause();
      call.log.warn(
        { timeoutMs: deps.config.RECONNECT_TIMEOUT_MS },
        'LiveKit connection lost; reconnecting (holding caller audio)',
      );
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => {
        call.log.error('LiveKit did not come back in time; apologising and ending the call');
        void this.apologiseAndEnd('reconnect_timeout');
      }, deps.config.RECONNECT_TIMEOUT_MS);
    });
    room.on(RoomEvent.Reconnected, () => {
      clearTimeout(this.reconnectTimer);
      call.log.info({ held: this.pump.depth }, 'LiveKit connection restored');
      this.pump.resume();
    });
  }

  /** Participants are compared by identity: rtc-node may hand out a new object for one. */
  private isAgent(p: { identity: string }): boolean {
    return this.agent !== undefined && p.identity === this.agent.identity;
  }

  private considerParticipant(p: RemoteParticipant): void {
    if (this.agent || p.kind !== ParticipantKind.AGENT) return;
    this.agent = p;
    clearTimeout(this.agentTimer);
    this.call.log.info({ agent: p.identity }, 'Agent joined the room');
    for (const pub of p.trackPublications.values()) this.subscribeAgentAudio(pub);
  }

  private subscribeAgentAudio(pub: RemoteTrackPublication): void {
    // Only the agent's audio is ever subscribed: no bandwidth or CPU for anything else.
    if (pub.kind === TrackKind.KIND_AUDIO && !pub.subscribed) pub.setSubscribed(true);
  }

  /**
   * Reads the agent's latest audio track. An agent may replace its track mid-call (the
   * OpenAI agent plays its apology on a new one after a model failure), so a newer track
   * takes over from the older one instead of being ignored.
   */
  private readAgentAudio(track: RemoteTrack): void {
    const previous = this.agentAudio;
    this.call.log.info({ track: track.sid }, 'Subscribed to agent audio track');
    const reader = new AudioStream(track, {
      sampleRate: SAMPLE_RATE_HZ,
      numChannels: 1,
      frameSizeMs: 20,
    }).getReader();
    this.agentAudio = reader;
    this.silentAgent.reset();
    if (previous) void previous.cancel().catch(() => undefined);
    void this.forwardAgentAudio(reader)
      .catch((err: unknown) => {
        if (!this.call.signal.aborted)
          this.call.log.warn({ err: (err as Error).message }, 'Agent audio stream failed');
      })
      .finally(() => {
        if (this.agentAudio === reader) this.agentAudio = undefined;
      });
  }

  private async forwardAgentAudio(reader: ReadableStreamDefaultReader<AudioFrame>): Promise<void> {
    const { metrics } = this.deps;
    let first = true;
    // Frames should be 160 samples; carry any remainder so odd sizes still make whole frames.
    const carry = new Int16Array(FRAME_SAMPLES);
    let carried = 0;
    for (;;) {
      const { done, value: frame } = await reader.read();
      if (done) break;
      if (this.call.signal.aborted || this.endingPhone || this.agentAudio !== reader) break;
      const receivedAt = performance.now();
      this.silentAgent.onFrame(frame.data, (frame.samplesPerChannel * 1000) / frame.sampleRate);
      if (first) {
        first = false;
        this.call.log.info('Starting to stream agent audio');
        this.openDtmf();
      }
      const data = frame.data;
      let off = 0;
      while (off < data.length) {
        const n = Math.min(FRAME_SAMPLES - carried, data.length - off);
        carry.set(data.subarray(off, off + n), carried);
        carried += n;
        off += n;
        if (carried === FRAME_SAMPLES) {
          carried = 0;
          const peak = peakOf(carry);
          this.encode(carry, this.encodeBuf);
          this.pacer.push(encodeBase64(this.encodeBuf), peak < SILENCE_PEAK, receivedAt);
          metrics.frames.inc({ direction: 'outbound' });
        }
      }
    }
  }

  /**
   * The agent talks but its track decodes to digital silence: drop the subscription and
   * take a fresh one, which gets a new native receiver (see silent-track-watchdog.ts).
   */
  private resubscribeAgentAudio(): void {
    const pub = this.agent && subscribedAudioOf([this.agent]);
    if (!pub || this.call.signal.aborted) return;
    this.deps.metrics.silentSubscriptions.inc();
    this.call.log.warn(
      { track: pub.sid, attempt: this.silentAgent.fired },
      'Agent audio is digital silence while the agent speaks; resubscribing',
    );
    clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = renewSubscription(
      pub,
      () => !this.call.signal.aborted && !this.endingPhone,
    );
  }

  private bargeIn(why: string): void {
    if (this.pacer.clear(this.agentSpeaking)) {
      this.deps.metrics.clears.inc();
      this.call.log.info({ why }, 'Barge-in: cleared queued agent audio');
    }
  }

  /** Plays the shipped apology, waits until the caller has heard it, then ends. */
  private async apologiseAndEnd(reason: EndReason): Promise<void> {
    if (this.endingPhone || this.call.signal.aborted) return;
    this.endingPhone = true;
    const prompt = loadPrompt('apology');
    if (prompt) {
      this.pacer.clear();
      // Sent at once: at the end of a call there is no barge-in to keep responsive.
      for (const f of prompt.frames) this.stream.send(this.pacer.mediaMessage(f));
      const heard = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, prompt.durationMs + 1500);
        this.onApologyHeard = () => {
          clearTimeout(t);
          resolve();
        };
        this.call.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      this.pacer.mark('pb-apology');
      await heard;
    } else {
      this.call.log.warn('No apology prompt found in assets/prompts; ending without it');
    }
    this.endingPhone = false;
    await this.endPhoneLeg(reason);
  }

  /** Ends the phone leg: through the REST API when we can, else by closing the stream. */
  private async endPhoneLeg(reason: EndReason): Promise<void> {
    if (this.call.signal.aborted) return;
    this.endingPhone = true;
    const { callControl } = this.deps;
    if (callControl.available) {
      try {
        await callControl.hangup(this.call.callSid);
      } catch (err) {
        this.call.log.warn(
          { err: (err as Error).message },
          'REST hang-up failed; closing the stream instead',
        );
      }
    }
    // Closing the stream makes Twilio continue with the TwiML after <Connect> (goodbye, hang up).
    this.stream.closeStream(1000, reason);
    this.deps.endCall(reason);
  }

  private async onTransferRpc(data: RpcInvocationData): Promise<string> {
    const { callControl, config } = this.deps;
    let to: unknown;
    try {
      to = (JSON.parse(data.payload) as { to?: unknown }).to;
    } catch {
      return JSON.stringify({ ok: false, reason: 'payload must be JSON {"to":"+E164"}' });
    }
    if (typeof to !== 'string' || !config.TRANSFER_ALLOWLIST.includes(to)) {
      return JSON.stringify({ ok: false, reason: 'number is not on the transfer allow-list' });
    }
    if (!callControl.available) {
      return JSON.stringify({
        ok: false,
        reason: 'transfers need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
      });
    }
    try {
      await callControl.transfer(this.call.callSid, to);
      this.call.log.info('Call transferred by the agent');
      this.deps.endCall('transferred');
      return JSON.stringify({ ok: true });
    } catch (err) {
      return JSON.stringify({
        ok: false,
        reason: `Twilio refused the transfer: ${(err as Error).message}`,
      });
    }
  }
}
