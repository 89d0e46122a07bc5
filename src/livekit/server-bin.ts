import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PbError } from '../errors.js';

const run = promisify(execFile);

/** The livekit-server we build and test against. Bump deliberately: it is a protocol peer. */
export const LIVEKIT_SERVER_VERSION = '1.13.5';
const MODULE = 'github.com/livekit/livekit-server/cmd/server';

export interface EnsureOptions {
  /** An existing binary to use instead of building (LIVEKIT_SERVER_BIN). */
  binary?: string;
  /** Where built binaries are cached (PHONEBRIDGE_CACHE_DIR, default ~/.cache/phonebridge). */
  cacheDir?: string;
  /** Called with progress lines while a build runs. */
  onProgress?: (line: string) => void;
}

export function defaultCacheDir(): string {
  return (
    process.env.PHONEBRIDGE_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'phonebridge')
  );
}

async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 15_000 });
    return /version\s+(\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Returns the path of a working livekit-server, building the pinned version with
 * `go install` into the cache on first use. Idempotent, and instant when cached.
 */
export async function ensureLiveKitServer(opts: EnsureOptions = {}): Promise<string> {
  const explicit = opts.binary ?? (process.env.LIVEKIT_SERVER_BIN || undefined);
  if (explicit) {
    const v = await versionOf(explicit);
    if (!v) {
      throw new PbError(
        'PB_ERR_LIVEKIT_SERVER_BIN',
        `LIVEKIT_SERVER_BIN=${explicit} does not run (\`${explicit} --version\` failed)`,
      );
    }
    return explicit;
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const target = join(cacheDir, `livekit-server-v${LIVEKIT_SERVER_VERSION}`);
  if (existsSync(target) && (await versionOf(target)) === LIVEKIT_SERVER_VERSION) return target;

  try {
    await run('go', ['version'], { timeout: 15_000 });
  } catch {
    throw new PbError(
      'PB_ERR_LIVEKIT_SERVER_BIN',
      'Go is not installed, so livekit-server cannot be built: install Go >= 1.26 (https://go.dev/dl), or set LIVEKIT_SERVER_BIN to an existing livekit-server, or set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET to use a running server',
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  // Build into a private folder, then rename: concurrent first runs cannot see a half-written binary.
  const gobin = mkdtempSync(join(cacheDir, 'build-'));
  opts.onProgress?.(
    `Building livekit-server v${LIVEKIT_SERVER_VERSION} with go install (first run only, a few minutes)…`,
  );
  try {
    await run('go', ['install', `${MODULE}@v${LIVEKIT_SERVER_VERSION}`], {
      env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' },
      timeout: 30 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    renameSync(join(gobin, 'server'), target);
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim().split('\n').slice(-3).join(' | ');
    throw new PbError(
      'PB_ERR_LIVEKIT_SERVER_BIN',
      `go install ${MODULE}@v${LIVEKIT_SERVER_VERSION} failed: ${detail ?? String(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  const v = await versionOf(target);
  if (v !== LIVEKIT_SERVER_VERSION) {
    throw new PbError(
      'PB_ERR_LIVEKIT_SERVER_BIN',
      `built ${target} reports version ${v ?? 'none'}, expected ${LIVEKIT_SERVER_VERSION}`,
    );
  }
  return target;
}
