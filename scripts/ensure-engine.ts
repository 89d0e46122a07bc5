// Builds (once per source change) and prints the path of the media engine. Used by .ci/run and by hand.
import { ensureEngine } from '../src/engine/build.js';
import { describeError } from '../src/errors.js';

try {
  const bin = await ensureEngine({ onProgress: (l) => console.error(l) });
  console.log(bin);
} catch (err) {
  console.error(describeError(err));
  process.exit(1);
}
