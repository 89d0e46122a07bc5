import type { Logger } from '../log.js';

/**
 * rtc-node 0.13's FfiHandle finaliser throws "trying to drop an invalid handle" as an
 * uncaught exception at garbage-collection time when the native side already released
 * the handle (typically a Room whose connect failed under load). Left alone it ends the
 * process and every other call in it (seen at 50 concurrent calls, BENCHMARKS.md). This
 * survives exactly that error class, counted and logged; any other uncaught exception
 * still ends the process with status 1, as Node would.
 */
const FINALISER_ERROR = /trying to drop an invalid handle|handle not found/;

let installed = false;
let survived = 0;

export function installFfiFinalizerGuard(log: Logger): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err: Error) => {
    if (FINALISER_ERROR.test(String(err?.message))) {
      survived++;
      log.warn({ err: err.message, survived }, 'Survived an rtc-node handle finaliser error');
      return;
    }
    log.fatal({ err }, 'Uncaught exception; exiting');
    // Give pino a moment to flush the line above before the process ends.
    setTimeout(() => process.exit(1), 100).unref();
    process.exitCode = 1;
  });
}
