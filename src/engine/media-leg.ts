import type { AgentAudio, EngineEvent, JoinRequest } from './protocol.js';

/**
 * What the bridge needs of the LiveKit leg of one call. The media engine implements it;
 * unit tests use a scripted fake (test/helpers/fake-media-leg.ts), so the bridge's
 * decisions are tested without a room.
 */
export interface MediaLeg {
  /** Starts carrying one call; events and audio arrive through `handlers`. */
  open(join: JoinRequest, handlers: MediaCallHandlers): MediaCall;
}

/** An event about a call, as reported by the engine, plus `engine_failed` from ours. */
export type MediaEvent = EngineEvent | { type: 'engine_failed'; reason: string };

export interface MediaCallHandlers {
  onEvent(event: MediaEvent): void;
  /** One 20 ms frame of agent audio; `audio.g711` is only valid during the call. */
  onAudio(audio: AgentAudio): void;
}

export interface MediaCall {
  /** Hands one 20 ms G.711 frame of the caller to the engine (paced there). */
  sendCallerAudio(g711: Uint8Array): void;
  sendDtmf(digit: string): void;
  setAttributes(attributes: Record<string, string>): void;
  replyRpc(id: string, reply: { payload: string } | { error: string }): void;
  /** Leaves the room; resolves with the engine's per-call counters once it has. */
  leave(): Promise<Record<string, number> | undefined>;
}
