// Builds (once) and prints the path of the pinned livekit-server. Used by .ci/run and by hand.
import { ensureLiveKitServer } from '../src/livekit/server-bin.js';
import { describeError } from '../src/errors.js';

try {
  const bin = await ensureLiveKitServer({ onProgress: (l) => console.error(l) });
  console.log(bin);
} catch (err) {
  console.error(describeError(err));
  process.exit(1);
}
