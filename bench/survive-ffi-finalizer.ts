// Preloaded into phonebridge by the load test when asked (`--server-node-args="--import
// ./bench/survive-ffi-finalizer.ts"`) to test the proposed fix for the 50-call crash:
// rtc-node's FfiHandle finaliser throws `trying to drop an invalid handle` as an uncaught
// exception at GC time when the native side already released the handle (a Room whose
// connect failed). That error is counted and survived; any other uncaught exception still
// ends the process with status 1, as Node would.
let survived = 0;
process.on('uncaughtException', (err: Error) => {
  const msg = String(err.message);
  if (/trying to drop an invalid handle|handle not found/.test(msg)) {
    survived++;
    console.error(`survived rtc-node finaliser error #${survived}: ${msg}`);
    return;
  }
  console.error(err);
  process.exit(1);
});

export {};
