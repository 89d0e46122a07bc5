import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';

export interface TranscriptTurn {
  role: 'caller' | 'agent';
  text: string;
  interrupted?: boolean;
}

/**
 * Logs each turn of a call and, with TRANSCRIPT_DIR, appends it as one JSON line to
 * `<dir>/<callSid>.jsonl`. Writes are chained so lines keep their order.
 */
export class TranscriptWriter {
  private chain: Promise<void> = Promise.resolve();
  private readonly file?: string;

  constructor(
    private readonly callSid: string,
    private readonly logger: Logger,
    dir?: string,
  ) {
    if (dir) {
      // CallSids are [A-Za-z0-9]; anything else is replaced so a name cannot leave the dir.
      this.file = join(dir, `${callSid.replace(/[^A-Za-z0-9_-]/g, '_')}.jsonl`);
      const d = dir;
      this.chain = mkdir(d, { recursive: true }).then(
        () => undefined,
        (err: unknown) =>
          this.logger.warn({ err: String(err), dir: d }, 'cannot create transcript dir'),
      );
    }
  }

  add(turn: TranscriptTurn): void {
    const text = turn.text.trim();
    if (!text) return;
    this.logger.info({ role: turn.role, text, interrupted: turn.interrupted }, 'transcript');
    if (!this.file) return;
    const line = `${JSON.stringify({ ts: new Date().toISOString(), callSid: this.callSid, ...turn, text })}\n`;
    const file = this.file;
    this.chain = this.chain.then(() =>
      appendFile(file, line).catch((err: unknown) =>
        this.logger.warn({ err: String(err) }, 'cannot write transcript'),
      ),
    );
  }

  /** Resolves when every line so far is on disk. */
  flush(): Promise<void> {
    return this.chain;
  }
}
