/**
 * Schema SQL for scratch databases (benchmarks and integration tests of the importer).
 *
 * The real schema is whatever `prisma/migrations/<timestamp>_<name>/migration.sql` says, applied in
 * directory order. While no migration exists yet (early in the project) we fall back to
 * FALLBACK_SCHEMA_SQL, which is what Prisma generates for prisma/schema.prisma (same tables,
 * columns, defaults, indexes and foreign keys).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ClientBase } from 'pg';

export const FALLBACK_SCHEMA_SQL = `
CREATE TYPE "interaction_kind" AS ENUM ('IMPLICIT', 'VIEW', 'CLICK', 'LIKE', 'ADD_TO_CART', 'PURCHASE', 'RATING');

CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "external_id" VARCHAR(256) NOT NULL,
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "items" (
    "id" SERIAL NOT NULL,
    "external_id" VARCHAR(256) NOT NULL,
    "title" VARCHAR(1024),
    "categories" VARCHAR(128)[] DEFAULT ARRAY[]::VARCHAR(128)[],
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "hidden" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "interactions" (
    "id" BIGSERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "item_id" INTEGER NOT NULL,
    "kind" "interaction_kind" NOT NULL DEFAULT 'IMPLICIT',
    "value" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "event_id" VARCHAR(256),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "interactions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "users_external_id_key" ON "users"("external_id");
CREATE UNIQUE INDEX "items_external_id_key" ON "items"("external_id");
CREATE INDEX "items_categories_idx" ON "items" USING GIN ("categories");
CREATE INDEX "items_hidden_id_idx" ON "items"("hidden", "id");
CREATE UNIQUE INDEX "interactions_event_id_key" ON "interactions"("event_id");
CREATE INDEX "interactions_user_id_occurred_at_id_idx" ON "interactions"("user_id", "occurred_at" DESC, "id" DESC);
CREATE INDEX "interactions_item_id_occurred_at_idx" ON "interactions"("item_id", "occurred_at" DESC);
CREATE INDEX "interactions_occurred_at_item_id_idx" ON "interactions"("occurred_at", "item_id");

ALTER TABLE "interactions" ADD CONSTRAINT "interactions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id") ON DELETE CASCADE ON UPDATE CASCADE;
`;

export interface SchemaScript {
  /** Migration directory name, or 'fallback'. */
  name: string;
  sql: string;
}

/** The directory holding package.json, searching upwards from `start` (works from src/ and dist/). */
export function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'prisma'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No project root (package.json + prisma/) above ${start}`);
    dir = parent;
  }
}

/** prisma/migrations/* /migration.sql in order, or the fallback schema when there are none. */
export function loadSchemaScripts(projectRoot: string): SchemaScript[] {
  const migrationsDir = join(projectRoot, 'prisma', 'migrations');
  const scripts: SchemaScript[] = [];
  if (existsSync(migrationsDir)) {
    for (const name of readdirSync(migrationsDir).sort()) {
      const file = join(migrationsDir, name, 'migration.sql');
      if (statSync(join(migrationsDir, name)).isDirectory() && existsSync(file)) {
        scripts.push({ name, sql: readFileSync(file, 'utf8') });
      }
    }
  }
  return scripts.length > 0 ? scripts : [{ name: 'fallback', sql: FALLBACK_SCHEMA_SQL }];
}

/** Creates the schema in an empty database; returns the names of the scripts applied. */
export async function applySchema(client: ClientBase, projectRoot: string): Promise<string[]> {
  const scripts = loadSchemaScripts(projectRoot);
  for (const script of scripts) {
    try {
      await client.query(script.sql);
    } catch (err) {
      throw new Error(`Applying ${script.name} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return scripts.map((s) => s.name);
}

/** `admin` URL with its database replaced by `database`. */
export function databaseUrlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = '/' + encodeURIComponent(database);
  return url.toString();
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
