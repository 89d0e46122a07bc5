/**
 * Decides when the caller's audio has an audience. Until the agent has subscribed to the
 * caller's track, what the caller says would reach nobody, so the bridge holds it; the
 * gate opens at the subscription (plus a settle time), or, when an agent is in the room
 * but never subscribes, at the join timeout. With no agent by then, the call cannot go on.
 *
 * LiveKit tells the publisher of a subscription when the subscriber's down-track is bound,
 * slightly before the subscriber's own code has attached a reader to it: audio released at
 * once lost its first ~50-100 ms at rtc-node agents (the start of a tone in 1 run of 5 on
 * a loaded machine), hence SETTLE_MS. Catch-up works that extra delay off in the caller's
 * next pause. Our agent says exactly when it reads the caller's track (the
 * `phonebridge.listening` data packet, announced by its `phonebridge.signals` attribute):
 * then the gate waits for that instead, up to LISTENING_WAIT_MS.
 */
export const SETTLE_MS = 200;
/** Measured 116-281 ms after the subscription on a loaded machine; generous beyond that. */
export const LISTENING_WAIT_MS = 3000;

export interface ListenGateOptions {
  /** AGENT_JOIN_TIMEOUT_MS, counted from the caller's track being published. */
  timeoutMs: number;
  /** The gate opened: `heldMs` since the stream started; `subscribed` false on timeout. */
  onOpen: (heldMs: number, subscribed: boolean) => void;
  /** No agent joined within the timeout. */
  onNoAgent: () => void;
}

export class ListenGate {
  private readonly since = performance.now();
  private agentPresent = false;
  private announces = false;
  private opened = false;
  private timer?: NodeJS.Timeout;
  private settle?: NodeJS.Timeout;
  /** ms the caller's audio was held before the gate opened. */
  heldMs?: number;

  constructor(private readonly opts: ListenGateOptions) {}

  get isOpen(): boolean {
    return this.opened;
  }

  /** The caller's track is up: the agent has `timeoutMs` to join and listen. */
  published(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.opened || this.settle) return;
      if (this.agentPresent) this.open(false);
      else this.opts.onNoAgent();
    }, this.opts.timeoutMs);
  }

  /** `announcesListening`: the agent sends `phonebridge.listening` when it reads the caller. */
  agentJoined(announcesListening = false): void {
    this.agentPresent = true;
    this.announces ||= announcesListening;
  }

  /** Someone (the agent) subscribed to the caller's track. */
  subscribed(): void {
    if (this.opened || this.settle) return;
    clearTimeout(this.timer);
    this.settle = setTimeout(() => this.open(true), this.announces ? LISTENING_WAIT_MS : SETTLE_MS);
  }

  /** The agent says it reads the caller's track now. */
  listening(): void {
    clearTimeout(this.timer);
    this.open(true);
  }

  close(): void {
    clearTimeout(this.timer);
    clearTimeout(this.settle);
  }

  private open(subscribed: boolean): void {
    if (this.opened) return;
    this.opened = true;
    clearTimeout(this.timer);
    clearTimeout(this.settle);
    this.heldMs = performance.now() - this.since;
    this.opts.onOpen(this.heldMs, subscribed);
  }
}
