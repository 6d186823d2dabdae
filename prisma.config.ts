import { defineConfig } from 'prisma/config';

// DATABASE_URL is optional: generation needs none, and the project's own migration runner
// (scripts/migrate.ts) resolves the database itself, starting the embedded one when unset.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/recoder' },
});
