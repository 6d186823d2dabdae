import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../../src/config/env.js';

const run = promisify(execFile);
const PKG = path.join(PROJECT_ROOT, 'clients', 'typescript');
const codegen = (...args: string[]) =>
  run(process.execPath, [path.join(PKG, 'scripts', 'codegen.mjs'), ...args], { cwd: PKG });

describe('@recoder/client package', () => {
  it('its generated types match schema.gql and the operations (a stale file fails here)', async () => {
    const { stdout } = await codegen('--check');
    expect(stdout).toMatch(/up to date/);
  });

  it('the check fails when the schema changes under the generated types', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'recoder-codegen-'));
    try {
      const schema = readFileSync(path.join(PROJECT_ROOT, 'schema.gql'), 'utf8');
      const changed = schema.replace(/(type Item \{[\s\S]*?\n) {2}title: String\n/, '$1  title: String!\n');
      expect(changed).not.toBe(schema);
      writeFileSync(path.join(dir, 'schema.gql'), changed);
      const error = await codegen('--check', '--schema', path.join(dir, 'schema.gql')).catch((e) => e);
      expect(error.code).toBe(1);
      expect(error.stderr).toMatch(/graphql\.ts is stale/);
      // Generating from that schema changes the item type: title is no longer nullable.
      await codegen('--schema', path.join(dir, 'schema.gql'), '--out', path.join(dir, 'graphql.ts'));
      expect(readFileSync(path.join(dir, 'graphql.ts'), 'utf8')).toMatch(
        /export type ItemFieldsFragment = \{ id: string, title: string, /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built package is ESM with type declarations, importable by name from a workspace', async () => {
    for (const f of ['index.js', 'index.d.ts', 'client.d.ts', 'generated/graphql.d.ts'])
      expect(existsSync(path.join(PKG, 'dist', f))).toBe(true);
    const script = `
      import { RecoderClient, RecoderNotFoundError, RecommendationsDocument, ERROR_CLASSES } from '@recoder/client';
      const c = new RecoderClient({ url: 'http://127.0.0.1:9/graphql' });
      console.log(JSON.stringify({ client: typeof c.recommendations, error: new RecoderNotFoundError('m', 'NOT_FOUND').code, doc: String(RecommendationsDocument).includes('query Recommendations'), codes: Object.keys(ERROR_CLASSES).length }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.join(PROJECT_ROOT, 'examples', 'product-backend'),
    });
    expect(JSON.parse(stdout)).toEqual({
      client: 'function',
      error: 'NOT_FOUND',
      doc: true,
      codes: expect.any(Number),
    });
    const dts = readFileSync(path.join(PKG, 'dist', 'client.d.ts'), 'utf8');
    expect(dts).toMatch(/recommendations\(variables: RecommendationsQueryVariables/);
  });

  it('packs dist, sources and README, no tests; its only runtime dependency is the typed-document-node types', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PKG });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/index.js',
        'dist/index.d.ts',
        'src/index.ts',
        'src/generated/graphql.ts',
      ]),
    );
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('scripts/'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({
      '@graphql-typed-document-node/core': expect.stringMatching(/^\d+\.\d+\.\d+$/),
    });
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
  }, 60_000);
});
