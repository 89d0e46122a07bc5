import { encodeBase64 } from '../audio/base64.js';
import { dtmfTone } from '../audio/dtmf-tones.js';
import { g711Frames } from '../audio/g711.js';
import type { Codec } from '../audio/g711.js';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { MediaCall, MediaEvent, MediaLeg } from '../engine/media-leg.js';
import type { AgentAudio } from '../engine/protocol.js';
import { phoneIdentity, phoneParticipantToken } from '../livekit/tokens.js';
import type { Metrics } from '../server/metrics.js';
import type { CallControl } from '../twilio/call-control.js';
import type { Call, EndReason } from './call.js';
import { CallerPath, SILENCE_PEAK } from './caller-path.js';
import { DtmfRelay } from './dtmf-relay.js';
import { OnsetTrace } from './onset-trace.js';
import {
  AGENT_GONE_TOPIC,
  INTERRUPTED_TOPIC,
  LISTENING_TOPIC,
  announcesListening,
  goneParticipant,
} from './agent-signals.js';
import { ListenGate } from './listen-gate.js';
import { OutboundPacer } from './outbound-pacer.js';
import { PhoneLeg } from './phone-leg.js';
import { ReconnectWatch } from './reconnect-watch.js';
import { answerTransfer, TRANSFER_METHOD } from './transfer.js';
import { TurnTracker } from './turns.js';

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
  private readonly turns = new TurnTracker();
  private readonly gate: ListenGate;
  private readonly reconnect: ReconnectWatch;
  private agent?: string;
  private agentFramesOut = 0;
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
      metrics,
      send: (frame) => this.leg?.sendCallerAudio(frame),
      onFrame: (peak) => {
        this.turns.onCallerFrame(peak);
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
        // An outbound call's agent starts listening at the machine-detection verdict and
        // greets first: what the callee said before ("Hello?") would reach it after the
        // greeting had begun, as a barge-in. Its first words are the greeting's cue, not
        // the conversation's.
        if (call.direction === 'outbound') this.caller.discardHeld();
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
      { onEvent: (e) => this.onEvent(e), onAudio: (a) => this.onAudio(a) },
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
      discardedAfterBargeIn: this.turns.discarded,
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
      case 'agent_joined':
        this.agent = ev.identity;
        this.gate.agentJoined(announcesListening(ev.attributes));
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
        if (this.turns.onAgentState(ev.state) === 'barge-in')
          this.bargeIn('the caller talked over the agent');
        return;
      case 'agent_attributes':
        if (announcesListening(ev.attributes)) this.gate.agentJoined(true);
        return;
      case 'data':
        this.onData(ev.topic, ev.payload, ev.identity);
        return;
      case 'agent_left':
        this.onAgentLeft(ev.identity, ev.reason);
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
      case 'rpc': {
        let transferred = false;
        void answerTransfer(
          ev.payload,
          {
            config: deps.config,
            callControl: deps.callControl,
            callSid: call.callSid,
            log: call.log,
          },
          () => {
            transferred = true;
            // Twilio stops the stream as it redirects: the call still ended by a transfer.
            call.intendedEndReason = 'transferred';
          },
        ).then((payload) => {
          // The agent hears the answer before the call (and the room) goes away.
          this.leg?.replyRpc(ev.id, { payload });
          if (transferred) deps.endCall('transferred');
        });
        return;
      }
      case 'dtmf':
        this.playDtmf(ev.digit);
        return;
      case 'left':
        return;
    }
  }

  private onData(topic: string | undefined, payload: string, from: string): void {
    // Only the agent speaks for the agent (a supervisor in the room is not it).
    const fromAgent = from !== '' && from === this.agent;
    if (topic === INTERRUPTED_TOPIC && fromAgent) {
      if (this.turns.onInterrupted() === 'barge-in') this.bargeIn('the agent was interrupted');
    } else if (topic === LISTENING_TOPIC && fromAgent) {
      this.gate.listening();
    } else if (topic === AGENT_GONE_TOPIC && !from) {
      // From the server API: the agent's worker saw its job process die. LiveKit itself
      // reports the departure up to seconds later.
      const gone = goneParticipant(payload);
      if (gone !== undefined && (!this.agent || gone === this.agent))
        this.onAgentLeft(gone, 'agent_process_died');
    }
  }

  private onAgentLeft(identity: string, reason: string): void {
    const { call } = this;
    // Deleting the room takes the agent out first: that is the room ending, not the agent.
    if (reason === 'room_deleted') {
      call.log.info({ reason }, 'Room was deleted; ending the call');
      void this.phone.end('room_deleted');
      return;
    }
    // An agent that hangs up leaves on purpose; one that is removed, times out or crashes
    // leaves a caller who deserves to hear why the line went quiet.
    const deliberate = reason === 'client_initiated';
    call.log.info(
      { agent: identity, reason },
      deliberate
        ? 'Agent left the room; ending the call'
        : 'Agent left the room unexpectedly; apologising and ending the call',
    );
    void (deliberate ? this.phone.end('agent_left') : this.phone.apologiseAndEnd('agent_left'));
  }

  private onAudio(a: AgentAudio): void {
    if (this.phone.ending) return;
    const silent = a.peak < SILENCE_PEAK;
    if (!this.turns.admitAgentFrame(silent)) return;
    if (this.agentFramesOut++ === 0) {
      this.call.log.info('Starting to stream agent audio');
      this.dtmf.openNow();
    }
    // The frame's time in the engine counts towards its hop through the bridge.
    const receivedAt = performance.now() - a.ageMicros / 1000;
    this.pacer.push(encodeBase64(a.g711), silent, receivedAt);
    this.deps.metrics.frames.inc({ direction: 'outbound' });
  }

  /**
   * Twilio's Media Streams take no DTMF from us, so the agent's digit goes to the caller
   * as audio, the way the PSTN carries it in-band.
   */
  private playDtmf(digit: string): void {
    let pcm: Int16Array;
    try {
      pcm = dtmfTone(digit);
    } catch {
      this.call.log.warn('The agent sent something that is not a DTMF digit; ignored');
      return;
    }
    this.call.log.info('Agent sent DTMF; playing it in-band to the caller');
    for (const frame of g711Frames(pcm, this.stream.codec))
      this.pacer.push(encodeBase64(frame), false);
  }

  /**
   * Barge-in: drop what Twilio and we still hold. `clear` is sent even when our estimate
   * says Twilio's queue is empty: its real buffer also holds network jitter we cannot see,
   * and a needless clear costs nothing.
   */
  private bargeIn(why: string): void {
    if (this.pacer.clear(true)) {
      this.deps.metrics.clears.inc();
      this.call.log.info({ why }, 'Barge-in: cleared queued agent audio');
    }
  }
}
