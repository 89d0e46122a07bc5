import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file the framework forks per job: `job.ts` beside this file under tsx, `job.js` in
 * dist/. Under tsx, a build in dist/ newer than every source file is used instead: a job
 * process then loads compiled JavaScript rather than transpiling our sources, which is
 * most of a fork's start-up on a small machine. A source edited after the build makes
 * the build stale, and the sources are used again.
 */
export function agentJobFile(
  here = import.meta.url,
  builtJob = fileURLToPath(new URL('../../dist/agent/job.js', here)),
): string {
  const own = fileURLToPath(new URL(`./job${extname(here)}`, here));
  if (!own.endsWith('.ts')) return own;
  try {
    const builtAt = statSync(builtJob).mtimeMs;
    const sources = fileURLToPath(new URL('../', here));
    if (newestSourceMs(sources) <= builtAt) return builtJob;
  } catch {
    // No build.
  }
  return own;
}

/** Modification time of the newest non-test `.ts` file under `dir`. */
function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}
