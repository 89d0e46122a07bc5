import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { agentJobFile, bundleJob, withoutTypeScriptLoader } from './job-file.js';

const root = mkdtempSync(join(tmpdir(), 'pb-jobfile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A checkout: src/agent/{job-file,job}.ts, src/x.ts and, if `built`, dist/agent/job.js. */
function checkout(name: string, built?: { sourceAt: number; builtAt: number }) {
  const dir = join(root, name);
  mkdirSync(join(dir, 'src/agent'), { recursive: true });
  for (const f of ['src/agent/job-file.ts', 'src/agent/job.ts', 'src/x.ts', 'src/x.test.ts']) {
    writeFileSync(join(dir, f), '');
  }
  if (built) {
    mkdirSync(join(dir, 'dist/agent'), { recursive: true });
    writeFileSync(join(dir, 'dist/agent/job.js'), '');
    for (const f of ['src/agent/job-file.ts', 'src/agent/job.ts', 'src/x.ts']) {
      utimesSync(join(dir, f), built.sourceAt, built.sourceAt);
    }
    // Tests are not compiled: a newer one does not make the build stale.
    utimesSync(join(dir, 'src/x.test.ts'), built.builtAt + 60, built.builtAt + 60);
    utimesSync(join(dir, 'dist/agent/job.js'), built.builtAt, built.builtAt);
  }
  return { dir, here: pathToFileURL(join(dir, 'src/agent/job-file.ts')).href };
}

const noBundle = () => undefined;

describe('agentJobFile', () => {
  it('forks the compiled job when a build newer than every source exists', () => {
    const { dir, here } = checkout('fresh', { sourceAt: 1000, builtAt: 2000 });
    expect(agentJobFile(here)).toBe(join(dir, 'dist/agent/job.js'));
  });

  it('forks the TypeScript job without a build, or when a source changed after it', () => {
    const none = checkout('none');
    expect(agentJobFile(none.here, undefined, noBundle)).toBe(join(none.dir, 'src/agent/job.ts'));
    const stale = checkout('stale', { sourceAt: 3000, builtAt: 2000 });
    expect(agentJobFile(stale.here, undefined, noBundle)).toBe(join(stale.dir, 'src/agent/job.ts'));
  });

  it('without a fresh build, bundles the sources two levels below the project', () => {
    const stale = checkout('bundled', { sourceAt: 3000, builtAt: 2000 });
    const asked: string[][] = [];
    const file = agentJobFile(stale.here, undefined, (entry, out) => {
      asked.push([entry, out]);
      return out;
    });
    expect(asked).toEqual([[join(stale.dir, 'src/agent/job.ts'), file]]);
    expect(file).toBe(join(stale.dir, '.cache/agent/job.mjs'));
  });

  it('the real job bundles into one file that imports only packages', () => {
    const entry = fileURLToPath(new URL('./job.ts', import.meta.url));
    const file = bundleJob(entry, join(root, 'real/.cache/agent/job.mjs'));
    expect(file).toBe(join(root, 'real/.cache/agent/job.mjs'));
    const code = readFileSync(file!, 'utf8');
    expect(code).toContain('prewarm');
    expect(code).toContain('from "@livekit/agents"');
    expect(code).not.toMatch(/from\s+["']\.\.?\//);
    expect(code).not.toMatch(/import\(["']\.\.?\//);
  });

  it('compiled code forks its sibling', () => {
    const here = pathToFileURL(join(root, 'any/dist/agent/job-file.js')).href;
    expect(agentJobFile(here)).toBe(join(root, 'any/dist/agent/job.js'));
  });
});

describe('withoutTypeScriptLoader', () => {
  it("drops tsx's loader in every spelling and keeps everything else", () => {
    expect(
      withoutTypeScriptLoader([
        '--import',
        'tsx',
        '--require',
        '/repo/node_modules/tsx/dist/preflight.cjs',
        '--import=file:///repo/node_modules/tsx/dist/loader.mjs',
        '--enable-source-maps',
        '--import',
        './other.mjs',
        '--max-old-space-size=512',
      ]),
    ).toEqual(['--enable-source-maps', '--import', './other.mjs', '--max-old-space-size=512']);
  });
});
