import { encodeBase64, decodeBase64Into } from '../audio/base64.js';
import { peakOf, type Codec } from '../audio/g711.js';
import { InboundFramer } from '../audio/inbound-framer.js';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { MediaCall, MediaEvent, MediaLeg } from '../engine/media-leg.js';
import type { AgentAudio } from '../engine/protocol.js';
import { phoneIdentity, phoneParticipantToken } from '../livekit/tokens.js';
import type { Metrics } from '../server/metrics.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Call, EndReason } from './call.js';
import { DtmfRelay } from './dtmf-relay.js';
import { InboundPump } from './inbound-pump.js';
import { OutboundPacer } from './outbound-pacer.js';
import { loadPrompt } from './prompts.js';
import { answerTransfer, TRANSFER_METHOD } from './transfer.js';

/** Below this peak a frame counts as silence (about -54 dBFS): comfort noise, not speech. */
const SILENCE_PEAK = 64;
/** After a hold, held silence is skipped until at most this much is buffered. */
const CATCH_UP_TARGET_MS = 60;
const FRAME_MS = 20;
/** Caller frames may reach the engine this far ahead of real time before it paces them. */
const CALLER_LEAD_MS = 40;
/** How long a hole in the agent's packets is waited for before it is concealed. */
const AGENT_JITTER_MS = 40;
const DTMF_SETTLE_MS = 1000;

export interface BridgeDeps {
  config: Config;
  metrics: Metrics;
  callControl: CallControl;
  media: MediaLeg;
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

/**
 * One call's audio path: Twilio media ⇄ the media engine's LiveKit leg. The bridge makes
 * every decision (hold, catch-up, pacing, barge-in, apology, hang-up); the engine carries
 * the audio. Everything hangs off `call.signal`; `teardown` releases it all, once.
 */
export class CallBridge {
  private leg?: MediaCall;
  private readonly framer: InboundFramer;
  private readonly pump: InboundPump;
  readonly pacer: OutboundPacer;
  private readonly dtmf: DtmfRelay;
  private readonly decodeBuf = Buffer.alloc(64 * 1024);
  private agentTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private agent?: string;
  private agentSpeaking = false;
  private endingPhone = false;
  private framesIn = 0;
  private reconnections = 0;
  private agentFramesOut = 0;
  private lastMediaAt = 0;
  /** When the engine will have played out every caller frame handed to it (virtual clock). */
  private callerPlayedUntil = 0;
  private onApologyHeard?: () => void;
  private engineStats?: Record<string, number>;
  private starting?: Promise<void>;

  constructor(
    private readonly call: Call,
    private readonly deps: BridgeDeps,
    private readonly stream: BridgeStart,
  ) {
    const { config, metrics } = deps;
    this.pump = new InboundPump({
      maxHeldFrames: Math.ceil(config.INBOUND_HOLD_MS / FRAME_MS),
      send: (frame) => this.sendCallerFrame(frame),
      catchUp: {
        queuedMs: () => Math.max(0, this.callerPlayedUntil - performance.now()),
        isSilent: (frame) => peakOf(stream.codec, frame) < SILENCE_PEAK,
        targetMs: CATCH_UP_TARGET_MS,
        frameMs: FRAME_MS,
      },
      onSent: (receivedAt) =>
        metrics.hopLatency.observe({ direction: 'inbound' }, performance.now() - receivedAt),
      onDrop: () => metrics.drops.inc({ direction: 'inbound' }),
    });
    this.framer = new InboundFramer(
      (frame) => {
        this.framesIn++;
        metrics.frames.inc({ direction: 'inbound' });
        metrics.queueDepth.observe({ direction: 'inbound' }, this.pump.depth);
        this.pump.push(frame, this.lastMediaAt);
      },
      {
        codec: stream.codec,
        maxGapFillMs: 1000,
        onGapFilled: (ms) => metrics.gapFillMs.inc(ms),
      },
    );
    this.pacer = new OutboundPacer({
      streamSid: stream.streamSid,
      leadMs: config.OUTBOUND_QUEUE_MS,
      send: stream.send,
      onHop: (ms) => metrics.hopLatency.observe({ direction: 'outbound' }, ms),
      onUnderrun: () => metrics.underruns.inc({ direction: 'outbound' }),
      onDrop: () => metrics.drops.inc({ direction: 'outbound' }),
    });
    this.dtmf = new DtmfRelay((digit) => this.leg?.sendDtmf(digit), call.log);
  }

  /** Asks the engine to join the room and publish the caller. Never throws: failures end the call. */
  start(): Promise<void> {
    this.starting ??= this.join().catch((err: unknown) => {
      if (this.call.signal.aborted) return;
      this.call.log.error(
        { err: describeError(err) },
        'Could not hand the call to the media engine; apologising and ending the call',
      );
      void this.apologiseAndEnd('error');
    });
    return this.starting;
  }

  private async join(): Promise<void> {
    const { call, deps } = this;
    const { config } = deps;
    const token = await phoneParticipantToken({
      apiKey: config.LIVEKIT_API_KEY!,
      apiSecret: config.LIVEKIT_API_SECRET!,
      room: call.room,
      identity: phoneIdentity(call.from),
      ttlSeconds: config.TOKEN_TTL_SECONDS,
      metadata: JSON.stringify({ callSid: call.callSid }),
    });
    if (call.signal.aborted) return;
    this.leg = deps.media.open(
      {
        callSid: call.callSid,
        url: config.LIVEKIT_URL!,
        token,
        codec: this.stream.codec === 'alaw' ? 'pcma' : 'pcmu',
        trackName: 'phone-audio',
        callerLeadMs: CALLER_LEAD_MS,
        jitterMs: AGENT_JITTER_MS,
        rpcMethods: [TRANSFER_METHOD],
      },
      { onEvent: (e) => this.onEvent(e), onAudio: (a) => this.onAudio(a) },
    );
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
    this.dtmf.onDigit(digit);
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
    await this.starting;
    clearTimeout(this.agentTimer);
    clearTimeout(this.reconnectTimer);
    this.dtmf.close();
    this.pump.close();
    this.pacer.close();
    // Resolves once the engine has left the room: only then may the room be deleted, or a
    // join still in flight would re-create it.
    this.engineStats = await this.leg?.leave();
  }

  summary(): Record<string, number> {
    const p = this.pacer.stats;
    const f = this.framer.stats;
    const e = this.engineStats ?? {};
    return {
      framesIn: this.framesIn,
      framesOut: p.frames,
      underruns: p.underruns,
      dropsIn: this.pump.drops + (e.callerFramesDropped ?? 0),
      catchUpSkipped: this.pump.skipped,
      dropsOut: p.drops + (e.agentFramesDropped ?? 0),
      gapFillMs: f.silenceFilledMs,
      maxQueueIn: this.pump.maxDepth,
      maxQueueOut: p.maxQueueFrames,
      reconnections: this.reconnections,
      clears: p.clears,
      dtmf: this.dtmf.received,
      marksEchoed: p.marksEchoed,
      agentPackets: e.agentPackets ?? 0,
      agentLostPackets: e.agentLostPackets ?? 0,
      agentConcealedFrames: e.agentConcealed ?? 0,
    };
  }

  private sendCallerFrame(frame: Uint8Array): void {
    const now = performance.now();
    this.callerPlayedUntil = Math.max(now, this.callerPlayedUntil) + FRAME_MS;
    this.leg?.sendCallerAudio(frame);
  }

  private onEvent(ev: MediaEvent): void {
    const { call, deps } = this;
    if (call.signal.aborted && ev.type !== 'left') return;
    switch (ev.type) {
      case 'joined':
        call.log.info(
          { room: ev.room, identity: ev.identity },
          `Connected to LiveKit room ${ev.room}`,
        );
        return;
      case 'published':
        call.log.info({ track: ev.track }, 'Published phone audio track');
        this.onPublished();
        return;
      case 'join_failed':
        call.log.error(
          { err: ev.error },
          'Could not join the LiveKit room; apologising and ending the call',
        );
        void this.apologiseAndEnd('error');
        return;
      case 'engine_failed':
        call.log.error(
          { reason: ev.reason },
          'The media engine failed under this call; apologising and ending it',
        );
        void this.apologiseAndEnd('engine_failed');
        return;
      case 'agent_joined':
        this.agent = ev.identity;
        clearTimeout(this.agentTimer);
        call.log.info({ agent: ev.identity }, 'Agent joined the room');
        return;
      case 'agent_track':
        if (ev.action === 'subscribed')
          call.log.info({ track: ev.track }, 'Subscribed to agent audio track');
        // The agent's audio went away mid-utterance: drop what Twilio still queues.
        else if (ev.action === 'unpublished' || ev.action === 'muted')
          this.bargeIn(`agent track ${ev.action}`);
        return;
      case 'agent_state':
        call.log.debug({ state: ev.state }, 'Agent state changed');
        if (this.agentSpeaking && ev.state !== 'speaking') this.bargeIn(`agent state ${ev.state}`);
        this.agentSpeaking = ev.state === 'speaking';
        return;
      case 'agent_left':
        // Deleting the room takes the agent out first: that is the room ending, not the agent.
        if (ev.reason === 'room_deleted') {
          call.log.info({ reason: ev.reason }, 'Room was deleted; ending the call');
          void this.endPhoneLeg('room_deleted');
          return;
        }
        call.log.info(
          { agent: ev.identity, reason: ev.reason },
          'Agent left the room; ending the call',
        );
        void this.endPhoneLeg('agent_left');
        return;
      case 'caller_subscribed':
        call.log.info({ track: ev.track }, "The agent is listening to the caller's audio");
        return;
      case 'reconnecting':
        this.onReconnecting();
        return;
      case 'reconnected':
        clearTimeout(this.reconnectTimer);
        call.log.info({ held: this.pump.depth }, 'LiveKit connection restored');
        this.pump.resume();
        return;
      case 'disconnected':
        if (ev.reason === 'room_deleted') {
          call.log.info({ reason: ev.reason }, 'Room was deleted; ending the call');
          void this.endPhoneLeg('room_deleted');
        } else {
          call.log.warn(
            { reason: ev.reason },
            'Disconnected from LiveKit; apologising and ending the call',
          );
          void this.apologiseAndEnd('error');
        }
        return;
      case 'rpc':
        void answerTransfer(
          ev.payload,
          {
            config: deps.config,
            callControl: deps.callControl,
            callSid: call.callSid,
            log: call.log,
          },
          () => deps.endCall('transferred'),
        ).then((payload) => this.leg?.replyRpc(ev.id, { payload }));
        return;
      case 'data':
      case 'dtmf':
        return;
      case 'left':
        this.engineStats = ev.stats;
        return;
    }
  }

  private onPublished(): void {
    const { call, deps } = this;
    this.pump.resume();
    this.dtmf.armAfter(DTMF_SETTLE_MS);
    if (this.agent) return;
    this.agentTimer = setTimeout(() => {
      if (this.agent || call.signal.aborted) return;
      call.log.warn(
        { timeoutMs: deps.config.AGENT_JOIN_TIMEOUT_MS },
        'No agent joined in time; apologising to the caller',
      );
      void this.apologiseAndEnd('agent_timeout');
    }, deps.config.AGENT_JOIN_TIMEOUT_MS);
  }

  private onReconnecting(): void {
    const { call, deps } = this;
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
  }

  private onAudio(a: AgentAudio): void {
    if (this.call.signal.aborted || this.endingPhone) return;
    if (this.agentFramesOut++ === 0) {
      this.call.log.info('Starting to stream agent audio');
      this.dtmf.openNow();
    }
    // The frame's time in the engine counts towards its hop through the bridge.
    const receivedAt = performance.now() - a.ageMicros / 1000;
    this.pacer.push(encodeBase64(a.g711), a.peak < SILENCE_PEAK, receivedAt);
    this.deps.metrics.frames.inc({ direction: 'outbound' });
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
    const prompt = loadPrompt('apology', this.stream.codec);
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
}
