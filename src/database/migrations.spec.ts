import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile, appendFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations, createMigration, DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH } from './migrations.js';

/**
 * Against a real PostgreSQL server: TEST_PG_ADMIN_URL (set by the jest global setup) or
 * DATABASE_URL. Every test works in its own scratch database, dropped at the end.
 */
const adminUrl = process.env.TEST_PG_ADMIN_URL ?? process.env.DATABASE_URL;
const prefix = `recoder_migtest_${randomBytes(3).toString('hex')}`;
const databases: string[] = [];
const tempDirs: string[] = [];

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T extends pg.QueryResultRow = any>(sql: string, url = adminUrl!): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A new empty database; returns its URL. */
async function freshDatabase(): Promise<string> {
  const name = `${prefix}_${databases.length}`;
  databases.push(name);
  await admin(`CREATE DATABASE ${name}`);
  return withDatabase(adminUrl!, name);
}

/** A copy of the project's migrations directory that a test may modify. */
async function migrationsCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'recoder-migrations-'));
  tempDirs.push(dir);
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function migrationNames(dir = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

beforeAll(() => {
  if (!adminUrl) throw new Error('Set TEST_PG_ADMIN_URL or DATABASE_URL to a PostgreSQL server (run through npm test)');
});

afterAll(async () => {
  for (const name of databases) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('applyMigrations', () => {
  it('applies every migration once, recorded as prisma migrate deploy records them', async () => {
    const url = await freshDatabase();
    const names = await migrationNames();
    expect(names.length).toBeGreaterThan(0);

    await expect(applyMigrations(url)).resolves.toEqual(names);
    await expect(applyMigrations(url)).resolves.toEqual([]);

    const rows = await admin(
      'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count FROM _prisma_migrations ORDER BY started_at',
      url,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row).toMatchObject({ logs: null, rolled_back_at: null, applied_steps_count: 1 });
    }
    const tables = await admin("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", url);
    // Every table the migrations create (read from their SQL), plus Prisma's bookkeeping table.
    const created = new Set(['_prisma_migrations']);
    for (const dir of await migrationNames()) {
      const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, dir, 'migration.sql'), 'utf8');
      for (const m of sql.matchAll(/CREATE (?:UNLOGGED )?TABLE "(\w+)"/g)) created.add(m[1]);
    }
    expect(created.has('interactions')).toBe(true);
    expect(tables.map((t) => t.tablename)).toEqual([...created].sort());
  });

  it('rejects a migration edited after it was applied (checksum mismatch), naming it', async () => {
    const url = await freshDatabase();
    const dir = await migrationsCopy();
    await applyMigrations(url, { migrationsDir: dir });
    const [first] = await migrationNames(dir);
    await appendFile(path.join(dir, first!, 'migration.sql'), '\n-- edited afterwards\n');

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      new RegExp(`${first}.*modified after being applied`),
    );
  });

  it('serialises concurrent callers: each migration is applied exactly once', async () => {
    const url = await freshDatabase();
    const dir = await migrationsCopy();
    // A slow last migration keeps the first caller inside the lock while the others arrive.
    await mkdir(path.join(dir, '99990101000000_slow'));
    await writeFile(
      path.join(dir, '99990101000000_slow', 'migration.sql'),
      'CREATE TABLE slow_marker (id int);\nSELECT pg_sleep(1);\n',
    );
    const names = await migrationNames(dir);

    const results = await Promise.all([1, 2, 3].map(() => applyMigrations(url, { migrationsDir: dir })));

    expect(results.filter((r) => r.length > 0)).toEqual([names]);
    const rows = await admin(
      'SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1',
      url,
    );
    expect(rows).toEqual(names.map((migration_name) => ({ migration_name, n: 1 })));
  });

  it('fails loudly on a failing migration, names it, records it as failed and keeps it atomic', async () => {
    const url = await freshDatabase();
    const dir = await migrationsCopy();
    await mkdir(path.join(dir, '99990101000000_broken'));
    await writeFile(
      path.join(dir, '99990101000000_broken', 'migration.sql'),
      "CREATE TABLE half_done (v text DEFAULT 'a;b');\nALTER TABLE no_such_table ADD COLUMN x int;\n",
    );

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration 99990101000000_broken failed/,
    );
    const [failed] = await admin(
      "SELECT finished_at, logs FROM _prisma_migrations WHERE migration_name = '99990101000000_broken'",
      url,
    );
    expect(failed).toMatchObject({ finished_at: null });
    expect(failed.logs).toContain('no_such_table');
    // One implicit transaction per migration, like the native engine: nothing half-applied.
    expect(await admin("SELECT to_regclass('half_done') AS t", url)).toEqual([{ t: null }]);
    // Later runs refuse until the failed migration is resolved.
    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(/99990101000000_broken failed earlier/);
  });
});

describe('createMigration', () => {
  it('returns null when the migrations already match prisma/schema.prisma', async () => {
    const dir = await migrationsCopy();
    await expect(createMigration('nothing', { connectionString: adminUrl!, migrationsDir: dir })).resolves.toBeNull();
    expect(await migrationNames(dir)).toEqual(await migrationNames());
  });

  it('writes the SQL Prisma generates for a schema change, under <timestamp>_<name>', async () => {
    const dir = await migrationsCopy();
    const schemaPath = path.join(dir, 'schema.prisma');
    const schema = await readFile(DEFAULT_SCHEMA_PATH, 'utf8');
    const changed = schema.replace(/(\n\s+hidden\s+Boolean[^\n]*)/, '$1\n  rank Int @default(0)');
    expect(changed).not.toEqual(schema);
    await writeFile(schemaPath, changed);

    const created = await createMigration('Add item rank', {
      connectionString: adminUrl!,
      migrationsDir: dir,
      schemaPath,
    });

    expect(created).toMatch(/^\d{14}_add_item_rank$/);
    const sql = await readFile(path.join(dir, created!, 'migration.sql'), 'utf8');
    expect(sql).toBe('-- AlterTable\nALTER TABLE "items" ADD COLUMN     "rank" INTEGER NOT NULL DEFAULT 0;\n');
    // The new migration applies on top of the others.
    const url = await freshDatabase();
    expect(await applyMigrations(url, { migrationsDir: dir })).toContain(created);
  });
});
