import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const db = g.__recoderTestDb as { adminUrl: string; name: string } | undefined;
  if (db) {
    const admin = new pg.Client({ connectionString: db.adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
    await admin.end();
  }
  const embedded = g.__recoderEmbedded as { stop(): Promise<void> } | undefined;
  if (embedded) await embedded.stop();
}
