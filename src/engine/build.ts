import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PbError } from '../errors.js';
import { defaultCacheDir } from '../livekit/server-bin.js';

const run = promisify(execFile);

/** The engine's Go module, in the repository beside src/ (and beside dist/ once built). */
export const ENGINE_DIR = fileURLToPath(new URL('../../engine/', import.meta.url));

export interface EnsureEngineOptions {
  /** Use this binary instead of building (PHONEBRIDGE_ENGINE_BIN). */
  binary?: string;
  cacheDir?: string;
  onProgress?: (line: string) => void;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testdata') out.push(...sourceFiles(path));
    } else if (
      (entry.name.endsWith('.go') && !entry.name.endsWith('_test.go')) ||
      entry.name === 'go.mod' ||
      entry.name === 'go.sum'
    ) {
      out.push(path);
    }
  }
  return out;
}

/** A hash of everything that goes into the binary: a source change means a rebuild. */
export function engineSourceHash(dir = ENGINE_DIR): string {
  const h = createHash('sha256');
  for (const file of sourceFiles(dir).sort()) {
    h.update(relative(dir, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['version'], { timeout: 10_000 });
    return /^phonebridge-engine (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The path of a media engine built from the current sources: cached beside
 * livekit-server under a hash of the sources, built with `go build` (cgo, for libopus)
 * on first use. Idempotent, and instant when cached.
 */
export async function ensureEngine(opts: EnsureEngineOptions = {}): Promise<string> {
  const explicit = opts.binary ?? (process.env.PHONEBRIDGE_ENGINE_BIN || undefined);
  if (explicit) {
    if (!(await versionOf(explicit)))
      throw new PbError(
        'PB_ERR_ENGINE',
        `PHONEBRIDGE_ENGINE_BIN=${explicit} does not run (\`${explicit} version\` failed)`,
      );
    return explicit;
  }
  const hash = engineSourceHash();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const target = join(cacheDir, `phonebridge-engine-${hash}`);
  if (existsSync(target) && (await versionOf(target)) === hash) return target;

  try {
    await run('go', ['version'], { timeout: 15_000 });
  } catch {
    throw new PbError(
      'PB_ERR_ENGINE',
      'Go is not installed, so the media engine cannot be built: install Go >= 1.26 (https://go.dev/dl) and a C compiler, or set PHONEBRIDGE_ENGINE_BIN to a built phonebridge-engine',
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, 'engine-build-'));
  opts.onProgress?.(
    'Building the media engine with go build (first run after a change, about a minute)…',
  );
  try {
    await run(
      'go',
      [
        'build',
        '-ldflags',
        `-s -w -X main.sourceHash=${hash}`,
        '-o',
        join(work, 'phonebridge-engine'),
        './cmd/phonebridge-engine',
      ],
      {
        cwd: ENGINE_DIR,
        // libopus is C built from source by cgo; its own warnings are not ours to fix.
        env: { ...process.env, CGO_ENABLED: '1', CGO_CFLAGS: '-O2 -w' },
        timeout: 30 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    renameSync(join(work, 'phonebridge-engine'), target);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    const noCc = /exec: "?(gcc|cc)"?: executable file not found/.test(stderr);
    const detail = stderr.trim().split('\n').slice(-3).join(' | ') || String(err);
    throw new PbError(
      'PB_ERR_ENGINE',
      noCc
        ? 'building the media engine needs a C compiler for libopus (apt-get install gcc), or set PHONEBRIDGE_ENGINE_BIN'
        : `go build of the media engine failed: ${detail}`,
      { cause: err },
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const v = await versionOf(target);
  if (v !== hash)
    throw new PbError(
      'PB_ERR_ENGINE',
      `built ${target} reports ${v ?? 'nothing'}, expected ${hash}`,
    );
  return target;
}
