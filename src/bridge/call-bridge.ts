import type { Codec } from '../audio/g711.js';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { MediaCall, MediaEvent, MediaLeg } from '../engine/media-leg.js';
import { phoneIdentity, phoneParticipantToken } from '../livekit/tokens.js';
import type { Metrics } from '../server/metrics.js';
import type { CallControl } from '../twilio/call-control.js';
import { AgentSide } from './agent-side.js';
import type { Call, EndReason } from './call.js';
import { CallerPath } from './caller-path.js';
import { DtmfRelay } from './dtmf-relay.js';
import { OnsetTrace } from './onset-trace.js';
import { ListenGate } from './listen-gate.js';
import { OutboundPacer } from './outbound-pacer.js';
import { PhoneLeg } from './phone-leg.js';
import { ReconnectWatch } from './reconnect-watch.js';
import { relayTransfer, TRANSFER_METHOD } from './transfer.js';

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
 * the audio. Caller audio is held from the stream's start until the agent has subscribed
 * to it, so the first words are heard, then caught up. Everything hangs off
 * `call.signal`; `teardown` releases it all, once.
 */
export class CallBridge {
  private leg?: MediaCall;
  private readonly caller: CallerPath;
  readonly pacer: OutboundPacer;
  private readonly phone: PhoneLeg;
  private readonly dtmf: DtmfRelay;
  private readonly gate: ListenGate;
  private readonly agent: AgentSide;
  private readonly reconnect: ReconnectWatch;
  private engineStats?: Record<string, number>;
  private starting?: Promise<void>;
  /** Caller attributes asked for before the room was joined; set once it is. */
  private pendingAttributes?: Record<string, string>;
  private joined = false;

  constructor(
    private readonly call: Call,
    private readonly deps: BridgeDeps,
    private readonly stream: BridgeStart,
  ) {
    const { config, metrics } = deps;
    const trace = config.PHONEBRIDGE_TRACE_ONSETS;
    const traceIn = trace ? new OnsetTrace(call.log, 'bridge.frame_in') : undefined;
    const traceOut = trace ? new OnsetTrace(call.log, 'bridge.sent') : undefined;
    this.caller = new CallerPath({
      codec: stream.codec,
      // Until the agent listens, everything the caller says is kept (issue 12): a slow agent
      // may take up to its join timeout, and a call's worth of seconds is kilobytes.
      holdMs: Math.max(config.INBOUND_HOLD_MS, config.AGENT_JOIN_TIMEOUT_MS),
      // An outbound call's agent starts listening at the machine-detection verdict and
      // greets first: the callee's words before it are the greeting's cue.
      heldBeforeListening: call.direction === 'outbound' ? 'discard' : 'deliver',
      metrics,
      send: (frame) => this.leg?.sendCallerAudio(frame),
      onFrame: (peak) => {
        this.agent.onCallerFrame(peak);
        traceIn?.feed(peak >= 4096);
      },
    });
    this.pacer = new OutboundPacer({
      streamSid: stream.streamSid,
      leadMs: config.OUTBOUND_QUEUE_MS,
      send: stream.send,
      onHop: (ms) => metrics.hopLatency.observe({ direction: 'outbound' }, ms),
      onUnderrun: () => metrics.underruns.inc({ direction: 'outbound' }),
      onDrop: () => metrics.drops.inc({ direction: 'outbound' }),
      onSent: traceOut && ((silent) => traceOut.feed(!silent)),
    });
    this.phone = new PhoneLeg(call, {
      codec: stream.codec,
      callControl: deps.callControl,
      pacer: this.pacer,
      send: stream.send,
      closeStream: stream.closeStream,
      endCall: deps.endCall,
    });
    this.dtmf = new DtmfRelay((digit) => this.leg?.sendDtmf(digit), call.log);
    this.reconnect = new ReconnectWatch({
      timeoutMs: config.RECONNECT_TIMEOUT_MS,
      onLost: () => {
        metrics.reconnections.inc();
        this.caller.hold();
        call.log.warn(
          { timeoutMs: config.RECONNECT_TIMEOUT_MS },
          'LiveKit connection lost; reconnecting (holding caller audio)',
        );
      },
      onRestored: () => {
        call.log.info({ held: this.caller.held }, 'LiveKit connection restored');
        if (this.gate.isOpen) this.caller.release();
      },
      onTimeout: () => {
        call.log.error('LiveKit did not come back in time; apologising and ending the call');
        void this.phone.apologiseAndEnd('reconnect_timeout');
      },
    });
    this.gate = new ListenGate({
      timeoutMs: config.AGENT_JOIN_TIMEOUT_MS,
      onOpen: (heldMs, subscribed) => {
        metrics.agentWait.observe(heldMs);
        call.log.info(
          { heldMs: Math.round(heldMs), heldFrames: this.caller.held },
          subscribed
            ? "The agent is listening to the caller's audio"
            : "The agent never subscribed to the caller's audio; sending it anyway",
        );
        this.caller.agentListening();
        if (!this.reconnect.active) this.caller.release();
      },
      onNoAgent: () => {
        call.log.warn(
          { timeoutMs: config.AGENT_JOIN_TIMEOUT_MS },
          'No agent joined in time; apologising to the caller',
        );
        void this.phone.apologiseAndEnd('agent_timeout');
      },
    });
    this.agent = new AgentSide({
      call,
      codec: stream.codec,
      metrics,
      phone: this.phone,
      pacer: this.pacer,
      gate: this.gate,
      dtmf: this.dtmf,
    });
  }

  /** Asks the engine to join the room and publish the caller. Never throws: failures end the call. */
  start(): Promise<void> {
    this.starting ??= this.join().catch((err: unknown) => {
      if (this.call.signal.aborted) return;
      this.call.log.error(
        { err: describeError(err) },
        'Could not hand the call to the media engine; apologising and ending the call',
      );
      void this.phone.apologiseAndEnd('error');
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
      // The phone participant is the person on the line: the caller, or the callee we dialled.
      identity: phoneIdentity(call.direction === 'outbound' ? call.to : call.from),
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
      { onEvent: (e) => this.onEvent(e), onAudio: (a) => this.agent.onAudio(a) },
    );
  }

  /**
   * Sets attributes on the phone participant, e.g. the AMD verdict the agent acts on
   * (`phonebridge.answered_by`). Asked before the room is joined, they are set once it is.
   */
  setCallerAttributes(attrs: Record<string, string>): void {
    if (!this.joined || !this.leg) {
      this.pendingAttributes = { ...this.pendingAttributes, ...attrs };
      return;
    }
    this.leg.setAttributes(attrs);
  }

  /** One Twilio `media` message. `receivedAt` is performance.now() at arrival. */
  onMedia(payload: string, timestampMs: number | undefined, receivedAt: number): boolean {
    return this.caller.onMedia(payload, timestampMs, receivedAt);
  }

  onDtmf(digit: string): void {
    this.dtmf.onDigit(digit);
  }

  onMark(name: string): void {
    if (this.phone.onMark(name)) return;
    const lag = this.pacer.onMarkEcho(name);
    if (lag !== undefined) this.deps.metrics.playbackLag.observe(lag);
  }

  /** Releases every resource; runs once, from the call's teardown. */
  async teardown(): Promise<void> {
    await this.starting;
    this.gate.close();
    this.reconnect.close();
    this.dtmf.close();
    this.caller.close();
    this.pacer.close();
    // Resolves once the engine has left the room: only then may the room be deleted, or a
    // join still in flight would re-create it.
    this.engineStats = await this.leg?.leave();
  }

  summary(): Record<string, number> {
    const p = this.pacer.stats;
    const c = this.caller.stats();
    const e = this.engineStats ?? {};
    return {
      ...c,
      dropsIn: c.dropsIn + (e.callerFramesDropped ?? 0),
      framesOut: p.frames,
      underruns: p.underruns,
      dropsOut: p.drops + (e.agentFramesDropped ?? 0),
      maxQueueOut: p.maxQueueFrames,
      silenceSkippedOut: p.skipped,
      reconnections: this.reconnect.count,
      clears: p.clears,
      discardedAfterBargeIn: this.agent.discardedAfterBargeIn,
      dtmf: this.dtmf.received,
      marksEchoed: p.marksEchoed,
      agentWaitMs: Math.round(this.gate.heldMs ?? -1),
      agentPackets: e.agentPackets ?? 0,
      agentLostPackets: e.agentLostPackets ?? 0,
      agentConcealedFrames: e.agentConcealed ?? 0,
    };
  }

  private onEvent(ev: MediaEvent): void {
    const { call, deps } = this;
    if (call.signal.aborted) return;
    if (AgentSide.handles(ev)) {
      this.agent.onEvent(ev);
      return;
    }
    switch (ev.type) {
      case 'joined':
        call.log.info(
          { room: ev.room, identity: ev.identity },
          `Connected to LiveKit room ${ev.room}`,
        );
        this.joined = true;
        if (this.pendingAttributes) this.setCallerAttributes(this.pendingAttributes);
        this.pendingAttributes = undefined;
        return;
      case 'published':
        call.log.info({ track: ev.track }, 'Published phone audio track');
        this.dtmf.armAfter(DTMF_SETTLE_MS);
        this.gate.published();
        return;
      case 'caller_subscribed':
        call.log.debug({ track: ev.track }, "The agent subscribed to the caller's audio");
        this.gate.subscribed();
        return;
      case 'join_failed':
        call.log.error(
          { err: ev.error },
          'Could not join the LiveKit room; apologising and ending the call',
        );
        void this.phone.apologiseAndEnd('error');
        return;
      case 'engine_failed':
        call.log.error(
          { reason: ev.reason },
          'The media engine failed under this call; apologising and ending it',
        );
        void this.phone.apologiseAndEnd('engine_failed');
        return;
      case 'reconnecting':
        this.reconnect.lost();
        return;
      case 'reconnected':
        this.reconnect.restored();
        return;
      case 'disconnected':
        if (ev.reason === 'room_deleted') {
          call.log.info({ reason: ev.reason }, 'Room was deleted; ending the call');
          void this.phone.end('room_deleted');
        } else {
          call.log.warn(
            { reason: ev.reason },
            'Disconnected from LiveKit; apologising and ending the call',
          );
          void this.phone.apologiseAndEnd('error');
        }
        return;
      case 'rpc':
        relayTransfer(
          ev.payload,
          { config: deps.config, callControl: deps.callControl, call },
          (payload) => this.leg?.replyRpc(ev.id, { payload }),
          deps.endCall,
        );
        return;
      case 'left':
        return;
    }
  }
}
