/**
 * LiveKit's connection recovering under a call: caller audio is held while it lasts (the
 * media path may be down with it), and a recovery that takes longer than `timeoutMs`
 * gives up on the call. Counts recoveries.
 */
export class ReconnectWatch {
  private timer?: NodeJS.Timeout;
  count = 0;
  active = false;

  constructor(
    private readonly opts: {
      timeoutMs: number;
      onLost: () => void;
      onRestored: () => void;
      onTimeout: () => void;
    },
  ) {}

  lost(): void {
    this.count++;
    this.active = true;
    this.opts.onLost();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.opts.onTimeout(), this.opts.timeoutMs);
  }

  restored(): void {
    clearTimeout(this.timer);
    this.active = false;
    this.opts.onRestored();
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
