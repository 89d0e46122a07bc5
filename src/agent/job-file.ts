import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Esbuild from 'esbuild';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bundles a TypeScript job file into one JavaScript file; returns its path, or undefined. */
export type JobBundler = (entry: string, outFile: string) => string | undefined;

/**
 * The file the framework forks per job: `job.js` in dist/; under tsx, the first of
 * - a build in dist/ newer than every source file,
 * - our sources bundled into `.cache/agent/job.mjs` (esbuild, which tsx brings; packages
 *   stay external), made afresh each time the worker starts,
 * - `job.ts` itself.
 * A job process then loads compiled JavaScript rather than transpiling our sources through
 * tsx's loader, which is most of a fork's start-up on a small machine (measured ~5 vs ~2
 * CPU-seconds). The bundle sits two levels below the project, like src/agent/, so paths
 * relative to `import.meta.url` (assets/, package.json) resolve the same.
 */
export function agentJobFile(
  here = import.meta.url,
  builtJob = fileURLToPath(new URL('../../dist/agent/job.js', here)),
  bundle: JobBundler = bundleJob,
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
  return bundle(own, fileURLToPath(new URL('../../.cache/agent/job.mjs', here))) ?? own;
}

export function bundleJob(entry: string, outFile: string): string | undefined {
  try {
    const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
    buildSync({
      entryPoints: [entry],
      outfile: outFile,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
    });
    return outFile;
  } catch {
    return undefined; // no esbuild (a production install): job.ts under tsx
  }
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

/**
 * `execArgv` without tsx's loader (`--import tsx`, `--import=<…/tsx/…>`, `--require
 * <…/tsx/…>`, `--loader tsx`). Job processes are forked with the worker's execArgv: under
 * `npm run dev` or vitest that carries tsx, whose resolver then runs for every import of
 * a compiled job process too (measured: as slow as transpiling the sources).
 */
export function withoutTypeScriptLoader(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  const isTsx = (v: string | undefined) => v !== undefined && /(^|[/\\])tsx([/\\]|$)|^tsx$/.test(v);
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = /^--(import|require|loader|experimental-loader)=(.*)$/.exec(arg);
    if (eq && isTsx(eq[2])) continue;
    if (
      /^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg) &&
      isTsx(execArgv[i + 1])
    ) {
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}
