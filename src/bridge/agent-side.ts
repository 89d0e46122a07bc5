import { encodeBase64 } from '../audio/base64.js';
import { dtmfTone } from '../audio/dtmf-tones.js';
import { g711Frames, type Codec } from '../audio/g711.js';
import type { MediaEvent } from '../engine/media-leg.js';
import type { AgentAudio } from '../engine/protocol.js';
import type { Metrics } from '../server/metrics.js';
import {
  AGENT_GONE_TOPIC,
  INTERRUPTED_TOPIC,
  LISTENING_TOPIC,
  announcesListening,
  goneParticipant,
} from '../livekit/signals.js';
import type { Call } from './call.js';
import { SILENCE_PEAK } from './caller-path.js';
import type { DtmfRelay } from './dtmf-relay.js';
import type { ListenGate } from './listen-gate.js';
import type { OutboundPacer } from './outbound-pacer.js';
import type { PhoneLeg } from './phone-leg.js';
import { TurnTracker } from './turns.js';

export interface AgentSideDeps {
  call: Call;
  codec: Codec;
  metrics: Metrics;
  phone: PhoneLeg;
  pacer: OutboundPacer;
  gate: ListenGate;
  dtmf: DtmfRelay;
}

const AGENT_EVENT_TYPES = [
  'agent_joined',
  'agent_track',
  'agent_state',
  'agent_attributes',
  'agent_left',
  'data',
  'dtmf',
] as const;
const AGENT_EVENTS = new Set<MediaEvent['type']>(AGENT_EVENT_TYPES);
type AgentEvent = Extract<MediaEvent, { type: (typeof AGENT_EVENT_TYPES)[number] }>;

/**
 * The agent as the bridge sees it: which participant it is, what it says (its audio, paced
 * to Twilio), when it listens, when it is interrupted (barge-in) and when it goes. Only the
 * adopted agent's own packets count; a supervisor in the room is not the agent.
 */
export class AgentSide {
  private readonly turns = new TurnTracker();
  private identity?: string;
  private framesOut = 0;

  constructor(private readonly deps: AgentSideDeps) {}

  /** Caller audio, for turn-taking (who talks over whom). */
  onCallerFrame(peak: number): void {
    this.turns.onCallerFrame(peak);
  }

  get discardedAfterBargeIn(): number {
    return this.turns.discarded;
  }

  static handles(ev: MediaEvent): ev is AgentEvent {
    return AGENT_EVENTS.has(ev.type);
  }

  onEvent(ev: AgentEvent): void {
    const { call, gate } = this.deps;
    switch (ev.type) {
      case 'agent_joined':
        this.identity = ev.identity;
        gate.agentJoined(announcesListening(ev.attributes));
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
        if (announcesListening(ev.attributes)) gate.agentJoined(true);
        return;
      case 'agent_left':
        this.onLeft(ev.identity, ev.reason);
        return;
      case 'data':
        this.onData(ev.topic, ev.payload, ev.identity);
        return;
      case 'dtmf':
        this.playDtmf(ev.digit);
        return;
    }
  }

  onAudio(a: AgentAudio): void {
    const { call, phone, pacer, dtmf, metrics } = this.deps;
    if (phone.ending) return;
    const silent = a.peak < SILENCE_PEAK;
    if (!this.turns.admitAgentFrame(silent)) return;
    if (this.framesOut++ === 0) {
      call.log.info('Starting to stream agent audio');
      dtmf.openNow();
    }
    // The frame's time in the engine counts towards its hop through the bridge.
    const receivedAt = performance.now() - a.ageMicros / 1000;
    pacer.push(encodeBase64(a.g711), silent, receivedAt);
    metrics.frames.inc({ direction: 'outbound' });
  }

  private onData(topic: string | undefined, payload: string, from: string): void {
    const fromAgent = from !== '' && from === this.identity;
    if (topic === INTERRUPTED_TOPIC && fromAgent) {
      if (this.turns.onInterrupted() === 'barge-in') this.bargeIn('the agent was interrupted');
    } else if (topic === LISTENING_TOPIC && fromAgent) {
      this.deps.gate.listening();
    } else if (topic === AGENT_GONE_TOPIC && !from) {
      // From the server API: the agent's worker saw its job process die. LiveKit itself
      // reports the departure up to seconds later.
      const gone = goneParticipant(payload);
      if (gone !== undefined && (!this.identity || gone === this.identity))
        this.onLeft(gone, 'agent_process_died');
    }
  }

  private onLeft(identity: string, reason: string): void {
    const { call, phone } = this.deps;
    // Deleting the room takes the agent out first: that is the room ending, not the agent.
    if (reason === 'room_deleted') {
      call.log.info({ reason }, 'Room was deleted; ending the call');
      void phone.end('room_deleted');
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
    void (deliberate ? phone.end('agent_left') : phone.apologiseAndEnd('agent_left'));
  }

  /**
   * Twilio's Media Streams take no DTMF from us, so the agent's digit goes to the caller
   * as audio, the way the PSTN carries it in-band.
   */
  private playDtmf(digit: string): void {
    const { call, pacer, codec } = this.deps;
    let pcm: Int16Array;
    try {
      pcm = dtmfTone(digit);
    } catch {
      call.log.warn('The agent sent something that is not a DTMF digit; ignored');
      return;
    }
    call.log.info('Agent sent DTMF; playing it in-band to the caller');
    for (const frame of g711Frames(pcm, codec)) pacer.push(encodeBase64(frame), false);
  }

  /**
   * Barge-in: drop what Twilio and we still hold. `clear` is sent even when our estimate
   * says Twilio's queue is empty: its real buffer also holds network jitter we cannot see,
   * and a needless clear costs nothing.
   */
  private bargeIn(why: string): void {
    if (this.deps.pacer.clear(true)) {
      this.deps.metrics.clears.inc();
      this.deps.call.log.info({ why }, 'Barge-in: cleared queued agent audio');
    }
  }
}
