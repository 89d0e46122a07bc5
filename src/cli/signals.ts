import type { Logger } from '../log.js';

/**
 * Resolves on the first SIGTERM or SIGINT so the caller can drain; a second
 * signal means "now": exit at once with a non-zero code.
 */
export function onShutdownSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals): void => {
      if (received) {
        log.warn({ signal }, 'Second signal: exiting without waiting');
        process.exit(130);
      }
      received = true;
      log.info({ signal }, 'Shutdown requested');
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * Aborts the returned signal on SIGINT or SIGTERM (Ctrl-C hangs a simulated call up the way
 * a caller would) until `release()` is called.
 */
export function abortOnSignals(): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const onSignal = (): void => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
