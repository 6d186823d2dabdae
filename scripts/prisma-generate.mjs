// Runs `prisma generate` without Prisma's downloaded engines (see docs/architecture.md, "Offline Prisma").
// Generation needs no schema engine; Prisma still insists on one existing, so we point it at a binary
// that fails loudly if anything actually tries to use it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fakeEngine = path.join(root, 'scripts', 'no-schema-engine.sh');
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'prisma', 'build', 'index.js'), 'generate'],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fakeEngine,
    },
  },
);
process.exit(result.status ?? 1);
