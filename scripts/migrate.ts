import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { openDatabaseFromEnv, type OpenedDatabase } from '../src/database/database-bootstrap.js';
import { applyMigrations, createMigration } from '../src/database/migrations.js';

const HELP = `Usage: node dist/scripts/migrate.js <command> [options]

Commands:
  deploy          Apply pending migrations from prisma/migrations (npm run db:migrate)
  create <name>   Write prisma/migrations/<UTC timestamp>_<name>/migration.sql with the SQL that
                  brings the migrations up to prisma/schema.prisma; nothing is applied
                  (npm run db:migrate:create -- <name>)

Options:
  -v, --verbose   Also print the embedded PostgreSQL's own log lines
  -h, --help      Show this help

Database: DATABASE_URL when set (for create, its server hosts a temporary shadow database, so the
user needs CREATEDB); otherwise the embedded PostgreSQL in RECODER_EMBEDDED_PG_DIR (default
.data/postgres) on port RECODER_EMBEDDED_PG_PORT (default 54329), started for the command and
stopped after it (or reused if another process of ours is running it).`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, verbose: { type: 'boolean', short: 'v' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  if (command !== 'deploy' && command !== 'create') throw new Error(`Unknown command "${command}" (see --help)`);
  if (command === 'create' && rest.length !== 1) throw new Error('Usage: migrate create <name>');
  if (command === 'deploy' && rest.length > 0) throw new Error('deploy takes no arguments');

  const env = loadEnv();
  const log = (msg: string) => {
    if (values.verbose || !msg.startsWith('[postgres]')) console.log(msg);
  };
  let db: OpenedDatabase | undefined;
  try {
    db = await openDatabaseFromEnv(env, {
      migrate: false,
      log,
    });
    if (command === 'deploy') {
      const applied = await applyMigrations(db.url, { log });
      console.log(
        applied.length
          ? `Applied ${applied.length} migration(s).`
          : 'No pending migrations: the database is up to date.',
      );
    } else {
      const created = await createMigration(rest[0]!, { connectionString: db.url, log });
      console.log(
        created ? `Created prisma/migrations/${created}/migration.sql` : 'No schema changes: no migration created.',
      );
    }
  } finally {
    await db?.close();
  }
}

try {
  await main();
} catch (error) {
  const err = error as Error;
  console.error(`migrate: ${err.message ?? err}`);
  process.exitCode = 1;
}
