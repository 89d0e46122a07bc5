/**
 * CallSids of calls that ended, remembered until their stream tokens have expired, so an
 * ended call's token cannot open a stream (which would start the call again) and a late
 * webhook retry cannot admit it again. This instance's memory; with REDIS_URL the fleet's
 * is in Redis too (SharedSlots).
 */
export class EndedCalls {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly rememberMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  add(callSid: string): void {
    this.prune();
    // Re-inserted so the map stays in expiry order and pruning can stop early.
    this.until.delete(callSid);
    this.until.set(callSid, this.now() + this.rememberMs);
  }

  has(callSid: string): boolean {
    const t = this.until.get(callSid);
    return t !== undefined && t > this.now();
  }

  get size(): number {
    this.prune();
    return this.until.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [sid, t] of this.until) {
      if (t > now) break;
      this.until.delete(sid);
    }
  }
}
