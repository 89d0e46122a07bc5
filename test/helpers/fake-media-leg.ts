import type {
  MediaCall,
  MediaCallHandlers,
  MediaEvent,
  MediaLeg,
} from '../../src/engine/media-leg.js';
import { FRAME_BYTES, type JoinRequest } from '../../src/engine/protocol.js';

/** One call opened on the fake leg: what the bridge sent it, and a way to answer. */
export class FakeMediaCall implements MediaCall {
  readonly callerFrames: Uint8Array[] = [];
  readonly dtmf: string[] = [];
  readonly attributes: Record<string, string>[] = [];
  readonly rpcReplies: { id: string; reply: { payload: string } | { error: string } }[] = [];
  left = false;

  constructor(
    readonly join: JoinRequest,
    private readonly handlers: MediaCallHandlers,
  ) {}

  sendCallerAudio(g711: Uint8Array): void {
    this.callerFrames.push(Uint8Array.from(g711));
  }
  sendDtmf(digit: string): void {
    this.dtmf.push(digit);
  }
  setAttributes(attributes: Record<string, string>): void {
    this.attributes.push(attributes);
  }
  replyRpc(id: string, reply: { payload: string } | { error: string }): void {
    this.rpcReplies.push({ id, reply });
  }
  leave(): Promise<Record<string, number> | undefined> {
    this.left = true;
    return Promise.resolve({ agentPackets: 0 });
  }

  /** Plays the engine: reports an event about this call. */
  emit(event: MediaEvent): void {
    this.handlers.onEvent(event);
  }

  /** Plays the engine: one 20 ms frame of agent audio (G.711 bytes, peak for silence). */
  audio(g711: Uint8Array, peak: number, ageMicros = 0): void {
    if (g711.length !== FRAME_BYTES) throw new RangeError('agent frames are 160 bytes');
    this.handlers.onAudio({ callId: 1, peak, flags: 0, ageMicros, g711 });
  }

  /** The usual start: joined, published, an agent listening, its audio subscribed. */
  connect(agent = 'agent-1'): void {
    this.emit({ type: 'joined', room: 'call-x', identity: 'phone-1', sid: 'PA_1' });
    this.emit({ type: 'published', track: 'TR_caller' });
    this.emit({ type: 'agent_joined', identity: agent, sid: 'PA_2' });
    this.emit({ type: 'caller_subscribed', track: 'TR_caller' });
    this.emit({ type: 'agent_track', action: 'subscribed', track: 'TR_agent' });
  }
}

/** A scripted stand-in for the media engine in bridge unit tests. */
export class FakeMediaLeg implements MediaLeg {
  readonly calls: FakeMediaCall[] = [];

  open(join: JoinRequest, handlers: MediaCallHandlers): MediaCall {
    const call = new FakeMediaCall(join, handlers);
    this.calls.push(call);
    return call;
  }

  get last(): FakeMediaCall {
    const c = this.calls.at(-1);
    if (!c) throw new Error('no call was opened');
    return c;
  }
}
