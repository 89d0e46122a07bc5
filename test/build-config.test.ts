import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The files `npm run build` compiles into dist/, as TypeScript itself resolves them: the
 * included ones and everything they import (an `exclude` does not stop an imported file).
 */
function buildFiles(): string[] {
  const path = `${root}tsconfig.build.json`;
  const { config } = ts.readConfigFile(path, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, path);
  expect(parsed.errors).toEqual([]);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  return program
    .getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => f.startsWith(root) && !f.includes('/node_modules/'))
    .map((f) => f.slice(root.length));
}

describe('npm run build', () => {
  it('compiles the product and none of the fixtures only tests use', { timeout: 60_000 }, () => {
    const files = buildFiles();
    expect(files).toContain('src/cli/entry.ts');
    expect(files).toContain('src/agent/job.ts');
    expect(files.filter((f) => /(^|\/)testing\/|\.test\.ts$|^test\//.test(f))).toEqual([]);
  });
});
