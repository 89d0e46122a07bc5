/**
 * Who has the floor, as the bridge can tell it: the agent's `lk.agent.state`, the
 * agent's own "I was interrupted" signal, and the caller's audio, which passes through
 * the bridge before it reaches anyone.
 *
 * A barge-in is the agent's speech ending while the caller talks (any agent: state
 * attribute only), or the agent saying it was interrupted (ours: the
 * `phonebridge.interrupted` data packet, sent as soon as the framework interrupts). A
 * turn that ends by itself (the state leaves `speaking` while the caller is quiet) is not
 * a barge-in: the reply's last frames are still on their way and must be heard.
 *
 * After a barge-in, agent audio that still arrives is the interrupted reply draining out of
 * the agent, the SFU and the engine; it is discarded until the agent starts a new
 * utterance: its state becomes `speaking` again, or its audio stops (a gap of
 * NEW_UTTERANCE_GAP_MS) and comes back.
 */

/** A caller frame this loud is speech, not line noise (about -30 dBFS). */
export const CALLER_SPEECH_PEAK = 1000;
/** The caller counts as talking for this long after a loud frame. */
const CALLER_TALKING_MS = 300;
/** Silence between two of the agent's utterances is at least this long. */
const NEW_UTTERANCE_GAP_MS = 300;

export type TurnDecision = 'barge-in' | 'none';

export class TurnTracker {
  private agentSpeaking = false;
  private lastCallerSpeechAt = -Infinity;
  private discarding = false;
  private lastAgentSoundAt = -Infinity;
  /** Agent frames dropped because they belonged to an interrupted reply. */
  discarded = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get agentIsSpeaking(): boolean {
    return this.agentSpeaking;
  }

  callerTalking(): boolean {
    return this.now() - this.lastCallerSpeechAt <= CALLER_TALKING_MS;
  }

  /** Every caller frame, by its peak. */
  onCallerFrame(peak: number): void {
    if (peak >= CALLER_SPEECH_PEAK) this.lastCallerSpeechAt = this.now();
  }

  onAgentState(state: string): TurnDecision {
    const was = this.agentSpeaking;
    this.agentSpeaking = state === 'speaking';
    if (this.agentSpeaking && !was) {
      this.discarding = false; // a new utterance starts
      return 'none';
    }
    if (was && !this.agentSpeaking && this.callerTalking()) return this.bargeIn();
    return 'none';
  }

  /** The agent said it was interrupted. */
  onInterrupted(): TurnDecision {
    return this.bargeIn();
  }

  /** Whether this agent frame is to be played (false: the tail of an interrupted reply). */
  admitAgentFrame(silent: boolean): boolean {
    const now = this.now();
    if (this.discarding && !silent && now - this.lastAgentSoundAt >= NEW_UTTERANCE_GAP_MS)
      this.discarding = false;
    if (!silent) this.lastAgentSoundAt = now;
    if (!this.discarding) return true;
    this.discarded++;
    return false;
  }

  private bargeIn(): TurnDecision {
    this.discarding = true;
    return 'barge-in';
  }
}
