import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/env.js';

/** The dashboard's GraphQL types (gql.tada's introspection output) are generated from schema.gql, not edited. */
describe('web/dashboard/src/graphql-env.d.ts', () => {
  it('is what `npm run dashboard:types` makes from the committed schema.gql', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'recoder-dashboard-types-'));
    try {
      const out = path.join(dir, 'graphql-env.d.ts');
      execFileSync(
        path.join(PROJECT_ROOT, 'node_modules', '.bin', 'gql.tada'),
        ['generate-output', '-c', 'web/dashboard/tsconfig.json', '-o', out],
        { cwd: PROJECT_ROOT, stdio: 'pipe' },
      );
      const committed = readFileSync(path.join(PROJECT_ROOT, 'web', 'dashboard', 'src', 'graphql-env.d.ts'), 'utf8');
      // Compared as text: run `npm run schema:print` (or `npm run dashboard:types`) when this fails.
      expect(readFileSync(out, 'utf8')).toBe(committed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
