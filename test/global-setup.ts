// Must come first: lets jest's CommonJS loading of this file resolve our "./x.js" imports.
import './resolve-ts.cjs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { applyMigrations } from '../src/database/migrations.js';
import { PROJECT_ROOT } from '../src/config/env.js';
import { withDatabase } from '../src/database/pg-url.js';

/**
 * One real Postgres for the whole run. With DATABASE_URL set, its server is used; otherwise an
 * embedded Postgres starts (port 54330, data in .data/postgres-test). Either way the tests work in
 * a scratch database created here and dropped in global-teardown, so a developer's data is never
 * touched. Exposes RECODER_TEST_DATABASE_URL (migrated scratch DB) and TEST_PG_ADMIN_URL.
 */
export default async function globalSetup(): Promise<void> {
  process.env.TZ = 'UTC';
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const embedded = await startEmbeddedPostgres({
      dataDir: path.join(PROJECT_ROOT, '.data', 'postgres-test'),
      port: Number(process.env.RECODER_TEST_PG_PORT ?? 54330),
    });
    (globalThis as Record<string, unknown>).__recoderEmbedded = embedded;
    adminUrl = embedded.url;
    console.log(`\n[test] DATABASE_URL unset: embedded PostgreSQL at ${redact(adminUrl)}`);
  } else {
    console.log(`\n[test] using the PostgreSQL server of DATABASE_URL (${redact(adminUrl)})`);
  }
  const name = `recoder_test_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  await applyMigrations(url);
  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.RECODER_TEST_DATABASE_URL = url;
  (globalThis as Record<string, unknown>).__recoderTestDb = { adminUrl, name };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
