import type { Room } from '@livekit/rtc-node';

/** The participant attribute the bridge watches to decide when to send Twilio `clear`. */
export const AGENT_STATE_ATTRIBUTE = 'lk.agent.state';

/** The subset of the framework's agent states our own (non-AgentSession) modes publish. */
export type AgentState = 'initializing' | 'listening' | 'speaking';

/**
 * Publishes `lk.agent.state` for modes that do not run an AgentSession (which sets it
 * itself). Repeated values are skipped because every change is a signalling message.
 */
export class AgentStatePublisher {
  private current: AgentState | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly room: Room,
    private readonly onError: (err: unknown) => void,
  ) {}

  get state(): AgentState | undefined {
    return this.current;
  }

  /** Sets the state; calls are serialised so the bridge sees them in order. */
  set(state: AgentState): Promise<void> {
    if (state === this.current) return this.pending;
    this.current = state;
    this.pending = this.pending
      .then(async () => {
        const participant = this.room.localParticipant;
        if (!participant || !this.room.isConnected) return;
        await participant.setAttributes({ [AGENT_STATE_ATTRIBUTE]: state });
      })
      .catch(this.onError);
    return this.pending;
  }
}
