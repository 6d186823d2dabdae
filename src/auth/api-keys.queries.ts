import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { ApiRole } from '../generated/prisma/enums.js';

type Db = Pick<PrismaClient, 'apiKey'>;

export interface ApiKeyRow {
  id: number;
  name: string;
  role: ApiRole;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const PUBLIC = {
  id: true,
  name: true,
  role: true,
  prefix: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const;

/** Hex SHA-256 of a presented key: what is stored and looked up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new secret: "rk_" + 256 random bits in base64url (46 characters). */
export function generateApiKey(): string {
  return `rk_${randomBytes(32).toString('base64url')}`;
}

/** Stores a new key and returns it with its secret, which is shown once and never stored. */
export async function createApiKey(
  db: Db,
  input: { name: string; role: ApiRole },
): Promise<{ key: string; row: ApiKeyRow }> {
  const key = generateApiKey();
  const row = await db.apiKey.create({
    data: { name: input.name, role: input.role, prefix: key.slice(0, 11), keyHash: hashApiKey(key) },
    select: PUBLIC,
  });
  return { key, row };
}

export async function listApiKeys(db: Db, includeRevoked = false): Promise<ApiKeyRow[]> {
  return db.apiKey.findMany({
    where: includeRevoked ? {} : { revokedAt: null },
    orderBy: { id: 'asc' },
    select: PUBLIC,
  });
}

/** Revokes by id or prefix; returns the revoked key, or null if none matched (or it was already revoked). */
export async function revokeApiKey(db: Db, idOrPrefix: number | string): Promise<ApiKeyRow | null> {
  const where = typeof idOrPrefix === 'number' ? { id: idOrPrefix } : { prefix: idOrPrefix };
  const found = await db.apiKey.findFirst({ where: { ...where, revokedAt: null }, select: { id: true } });
  if (!found) return null;
  return db.apiKey.update({ where: { id: found.id }, data: { revokedAt: new Date() }, select: PUBLIC });
}

/** The active (not revoked) key with this hash. */
export async function findActiveKey(db: Db, keyHash: string): Promise<ApiKeyRow | null> {
  return db.apiKey.findFirst({ where: { keyHash, revokedAt: null }, select: PUBLIC });
}

export async function touchApiKey(db: Db, id: number): Promise<void> {
  await db.apiKey.update({ where: { id }, data: { lastUsedAt: new Date() }, select: { id: true } });
}
