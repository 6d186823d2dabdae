import { parseArgs } from 'node:util';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/auth/api-keys.queries.js';
import { loadEnv } from '../src/config/env.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import type { ApiRole } from '../src/generated/prisma/enums.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run apikey -- create --role reader|writer|admin [--name <name>]
       npm run apikey -- list [--all]
       npm run apikey -- revoke <id | prefix>

create  prints a new API key once (only its SHA-256 is stored). Clients send it as
        "Authorization: Bearer <key>". Roles: reader (queries), writer (+ recordInteractions and
        catalog upserts), admin (+ deletions, training, activation, API keys).
list    active keys (--all: revoked ones too): id, prefix, role, name, created, last used
revoke  revokes a key; every API process stops accepting it at once (NOTIFY)
  -h, --help`;

const ROLES: Record<string, ApiRole> = { reader: 'READER', writer: 'WRITER', admin: 'ADMIN' };

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  const valid =
    (command === 'create' && values.role !== undefined && values.role.toLowerCase() in ROLES) ||
    command === 'list' ||
    (command === 'revoke' && arg !== undefined);
  if (values.help || !valid) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, { log: (m) => console.error(`[db] ${m}`) });
  const prisma = createPrismaClient(db.url, 1);
  try {
    if (command === 'create') {
      const role = ROLES[values.role!.toLowerCase()];
      const name = values.name ?? `${role.toLowerCase()} key`;
      if (name.length > 128) throw new Error('--name: at most 128 characters');
      const { key, row } = await createApiKey(prisma, { name, role });
      console.error(`created API key ${row.id} (${row.role}, "${row.name}"); it is shown only now:`);
      console.log(key);
      return;
    }
    if (command === 'revoke') {
      const row = await revokeApiKey(prisma, /^\d+$/.test(arg!) ? Number(arg) : arg!);
      if (!row) throw new Error(`no active API key with id or prefix "${arg}"`);
      console.log(`revoked API key ${row.id} (${row.prefix}…, ${row.role}, "${row.name}")`);
      return;
    }
    const keys = await listApiKeys(prisma, values.all ?? false);
    if (keys.length === 0) {
      console.log('no API keys yet: npm run apikey -- create --role admin');
      return;
    }
    console.log('| id | prefix | role | name | created | last used | revoked |');
    console.log('|---|---|---|---|---|---|---|');
    const at = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '-');
    for (const k of keys)
      console.log(
        `| ${k.id} | ${k.prefix}… | ${k.role} | ${k.name} | ${at(k.createdAt)} | ${at(k.lastUsedAt)} | ${at(k.revokedAt)} |`,
      );
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main, { print: 'message' });
