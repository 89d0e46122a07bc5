import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';

/**
 * Re-logs an engine process's stderr into our logger: its slog JSON lines keep their
 * level and fields (a line with a callSid lands in that call's story); anything else
 * (a Go runtime panic) is kept whole at error level.
 */
export function relayEngineLog(stderr: Readable, log: Logger, pid: number | undefined): void {
  createInterface({ input: stderr }).on('line', (line) => {
    if (!line.trim()) return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.error({ component: 'engine', pid }, `engine: ${line.slice(0, 2000)}`);
      return;
    }
    const { level, msg, time: _time, ...fields } = entry;
    const text = typeof msg === 'string' ? msg : 'engine log line';
    const attrs = { component: 'engine', ...fields };
    if (level === 'ERROR') log.error(attrs, text);
    else if (level === 'WARN') log.warn(attrs, text);
    else if (level === 'DEBUG') log.debug(attrs, text);
    else log.info(attrs, text);
  });
}
